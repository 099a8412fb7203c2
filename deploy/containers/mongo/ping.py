#!/opt/nx/bin/python
"""The stand-in's health check: the MongoDB `ping` command over the wire, as mongosh would."""

import sys

from pymongo import MongoClient

client = MongoClient("mongodb://127.0.0.1:27017", serverSelectionTimeoutMS=3000)
try:
    client.admin.command("ping")
except Exception as error:  # any failure means "not healthy"
    sys.exit(f"mongo-ping: {error}")
finally:
    client.close()

"""MongoDB persistence: the system of record for employees, embeddings, attendance and pictures."""

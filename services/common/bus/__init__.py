"""Message transports: RabbitMQ for deployments, in-memory for one process and unit tests."""

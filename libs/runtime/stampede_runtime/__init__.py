"""What every Stampede service is built on, written once: settings loading, the
producer wrapper, the consumer loop and its dead-letter/retry policy, the
problem-document mapper, ops endpoints, the PostgreSQL pool and owned tasks."""

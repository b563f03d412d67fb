"""What the VTN process runs beside the use cases of aggregator/: the poll cache, the delivery and
acknowledgement of outbox messages, the group-commit report writer."""

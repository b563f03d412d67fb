"""What the VTN process runs beside the use cases of aggregator/: the poll cache (the poll path's
PollNotifier and RecentPolls) and the group-commit report writer."""

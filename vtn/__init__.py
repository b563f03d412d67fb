"""The VTN: OpenADR 2.0b server, operator REST API and persistence."""

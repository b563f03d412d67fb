"""The home agent core: device registry, events, policy, safety, buffering, OpenADR client."""

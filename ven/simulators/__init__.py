"""Device simulators: one module per `device_type` of the bus spec, and a home that runs them."""

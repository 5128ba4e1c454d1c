"""yiwang provisioning: keys, enrolment, NATS configuration, the `yiwang` command."""

"""Local fakes of third-party services, served over loopback HTTP in tests."""

"""MemberHub application: CLI, web API and console, scheduler, workers."""

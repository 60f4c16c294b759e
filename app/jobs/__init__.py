"""The job queue and what runs on it: jobs deferred in the caller's transaction, jobs whose rows
tell users how they go, CPU-bound work in child processes, the jobs of stalled workers, and the
quota of an organization."""

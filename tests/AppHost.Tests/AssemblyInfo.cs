// Each test starts real processes (the AppHost, PostgreSQL, silos) on a 2-core machine: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

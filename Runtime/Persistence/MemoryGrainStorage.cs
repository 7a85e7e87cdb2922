using Orchestration.Runtime.Projections;
using Orchestration.Runtime.Streams;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// Storage in process memory, for unit tests. Same contract as the durable providers (versions, conflicts, event
/// sequences), nothing survives the process. One instance may be shared by the silos of a test cluster.
/// </summary>
internal sealed class MemoryGrainStorage : IGrainStorage
{
    private readonly Lock _gate = new();
    private readonly Dictionary<GrainStateKey, StoredState> _states = [];
    private readonly List<StreamEvent> _events = [];
    private readonly Dictionary<(GrainId, string), ReminderEntry> _reminders = [];
    private readonly Dictionary<string, long> _cursors = [];
    private readonly Dictionary<(string Tenant, string Collection, string Id), ProjectionRow> _projections = [];
    private event Action<long>? Committed;

    public string ProviderName => "Memory";

    public int MaxConcurrentCommits => 1;

    public Task InitializeAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<GrainStateRecord?> ReadStateAsync(GrainStateKey key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_states.TryGetValue(key, out var stored) && stored.Data is { } data
                ? new GrainStateRecord(data, stored.Version)
                : null);
        }
    }

    public Task CommitAsync(IReadOnlyList<StorageWrite> writes, CancellationToken cancellationToken)
    {
        var anyEvents = false;
        long lastSequence;
        lock (_gate)
        {
            foreach (var write in writes)
            {
                if (write.StateKey is { } key)
                {
                    StoredVersion? stored = _states.TryGetValue(key, out var current) ? new StoredVersion(current.Version, current.Data is null) : null;
                    var decision = StateWriteRules.Decide(stored, write.ExpectedVersion, write.IsDelete);
                    if (decision.Conflict)
                    {
                        write.Conflict = true;
                        continue;
                    }

                    if (decision.Change is StateRowChange.Upsert or StateRowChange.Tombstone)
                    {
                        _states[key] = new StoredState(decision.Change == StateRowChange.Upsert ? write.Data : null, decision.StoredVersion);
                    }

                    write.NewVersion = decision.NewVersion;
                }

                write.FirstSequence = _events.Count + 1;
                foreach (var draft in write.Events)
                {
                    _events.Add(draft.ToCommitted(_events.Count + 1));
                    anyEvents = true;
                }

                foreach (var change in write.Projections)
                {
                    if (change.Upsert is { } row)
                    {
                        _projections[(change.Tenant, change.Collection, change.Id)] = row;
                    }
                    else
                    {
                        _projections.Remove((change.Tenant, change.Collection, change.Id));
                    }
                }

                foreach (var change in write.Reminders)
                {
                    if (change.Upsert is { } entry)
                    {
                        _reminders[(change.GrainId, change.Name)] = entry;
                    }
                    else
                    {
                        _reminders.Remove((change.GrainId, change.Name));
                    }
                }
            }

            lastSequence = _events.Count;
        }

        if (anyEvents)
        {
            Committed?.Invoke(lastSequence);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<StreamEvent>> ReadEventsAsync(long afterSequence, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var start = (int)Math.Min(Math.Max(afterSequence, 0), _events.Count);
            var count = Math.Min(limit, _events.Count - start);
            return Task.FromResult<IReadOnlyList<StreamEvent>>(_events.GetRange(start, count));
        }
    }

    public Task<IReadOnlyList<StreamEvent>> ReadTenantEventsAsync(string tenant, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var start = (int)Math.Min(Math.Max(afterSequence, 0), _events.Count);
            IReadOnlyList<StreamEvent> events = _events.Skip(start).Where(e => TenantKey.Belongs(e.StreamId.Key, tenant)).Take(limit).ToList();
            return Task.FromResult(events);
        }
    }

    public Task<ProjectionPage> QueryProjectionsAsync(ProjectionQuery query, CancellationToken cancellationToken)
    {
        var cursor = ProjectionCursor.Parse(query);
        lock (_gate)
        {
            var rows = _projections.Values
                .Where(row => row.Collection == query.Collection
                    && (query.Tenant is null || row.Tenant == query.Tenant)
                    && (query.Status is null || row.Status == query.Status)
                    && (query.Owner is null || row.Owner == query.Owner)
                    && (query.Group is null || row.Group == query.Group)
                    && (cursor is not { } after || after.IsBefore(row)))
                .OrderBy(row => row.Id, StringComparer.Ordinal)
                .ThenBy(row => row.Tenant, StringComparer.Ordinal)
                .Take(query.Limit + 1)
                .Select(row => query.IncludeDocuments ? row : row with { Document = string.Empty })
                .ToList();
            return Task.FromResult(ProjectionCursor.Page(rows, query));
        }
    }

    public Task<ProjectionRow?> ReadProjectionAsync(string collection, string tenant, string id, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_projections.GetValueOrDefault((tenant, collection, id)));
        }
    }

    public Task<long> ReadLastSequenceAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult((long)_events.Count);
        }
    }

    public Task<IReadOnlyList<ReminderEntry>> ReadRemindersAsync(DateTimeOffset? dueBy, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ReminderEntry>>(
                [.. _reminders.Values.Where(entry => entry.Period > TimeSpan.Zero || dueBy is null || entry.FirstDueAt <= dueBy)]);
        }
    }

    public Task<long> ReadCursorAsync(string subscriber, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Task.FromResult(_cursors.GetValueOrDefault(subscriber));
        }
    }

    public Task WriteCursorAsync(string subscriber, long sequence, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _cursors[subscriber] = Math.Max(sequence, _cursors.GetValueOrDefault(subscriber));
        }

        return Task.CompletedTask;
    }

    public Task CheckHealthAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public IAsyncDisposable WatchCommits(Action<long> onCommit)
    {
        Committed += onCommit;
        return new Unsubscriber(() => Committed -= onCommit);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>A row as the durable providers keep it: null data marks a tombstone.</summary>
    private readonly record struct StoredState(string? Data, long Version);

    private sealed class Unsubscriber(Action unsubscribe) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            unsubscribe();
            return ValueTask.CompletedTask;
        }
    }
}

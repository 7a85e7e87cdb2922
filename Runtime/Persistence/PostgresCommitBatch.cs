using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using Orchestration.Runtime.Projections;

namespace Orchestration.Runtime.Persistence;

/// <summary>
/// A batch of writes as the column arrays <c>orch_commit</c> and <c>orch_apply_reminders</c> take (built in one pass; a
/// batch without projections sends empty arrays, which the function skips), and the function's answer
/// mapped back onto the writes: versions and conflicts, then event sequences in array order.
/// </summary>
internal sealed class PostgresCommitBatch
{
    private readonly IReadOnlyList<StorageWrite> _writes;
    private readonly List<int> _stateOrdinals = [];
    private readonly List<string> _stateTypes = [];
    private readonly List<string> _stateKeys = [];
    private readonly List<string> _stateNames = [];
    private readonly List<string?> _stateData = [];
    private readonly List<long> _expectedVersions = [];
    private readonly List<bool> _deletes = [];
    private readonly List<int> _eventOrdinals = [];
    private readonly List<string> _eventNamespaces = [];
    private readonly List<string> _eventKeys = [];
    private readonly List<string> _eventTenants = [];
    private readonly List<string> _eventTypes = [];
    private readonly List<DateTimeOffset> _eventTimes = [];
    private readonly List<string> _eventData = [];
    private readonly List<int> _reminderOrdinals = [];
    private readonly List<string> _reminderTypes = [];
    private readonly List<string> _reminderKeys = [];
    private readonly List<string> _reminderNames = [];
    private readonly List<DateTimeOffset?> _reminderDueTimes = [];
    private readonly List<TimeSpan?> _reminderPeriods = [];
    private readonly List<int> _projectionOrdinals = [];
    private readonly List<string> _projectionCollections = [];
    private readonly List<string> _projectionTenants = [];
    private readonly List<string> _projectionIds = [];
    private readonly List<string?> _projectionStatuses = [];
    private readonly List<string?> _projectionOwners = [];
    private readonly List<string?> _projectionGroups = [];
    private readonly List<string?> _projectionDocuments = [];
    private readonly HashSet<(int Partition, long Epoch)> _fences = [];

    public PostgresCommitBatch(IReadOnlyList<StorageWrite> writes)
    {
        _writes = writes;
        for (var ordinal = 0; ordinal < writes.Count; ordinal++)
        {
            var write = writes[ordinal];
            // Every delete goes to the database, even one expecting 0: a live row there makes it conflict (StateWriteRules).
            if (write.StateKey is { } key)
            {
                _stateOrdinals.Add(ordinal);
                _stateTypes.Add(key.GrainType);
                _stateKeys.Add(key.GrainKey);
                _stateNames.Add(key.StateName);
                _stateData.Add(write.Data);
                _expectedVersions.Add(write.ExpectedVersion);
                _deletes.Add(write.IsDelete);
            }

            foreach (var draft in write.Events)
            {
                _eventOrdinals.Add(ordinal);
                _eventNamespaces.Add(draft.StreamId.Namespace);
                _eventKeys.Add(draft.StreamId.Key);
                _eventTenants.Add(TenantKey.Of(draft.StreamId.Key));
                _eventTypes.Add(draft.Type);
                _eventTimes.Add(draft.Timestamp);
                _eventData.Add(draft.Data);
            }

            foreach (var change in write.Reminders)
            {
                _reminderOrdinals.Add(ordinal);
                _reminderTypes.Add(change.GrainId.Type);
                _reminderKeys.Add(change.GrainId.Key);
                _reminderNames.Add(change.Name);
                _reminderDueTimes.Add(change.Upsert?.FirstDueAt);
                _reminderPeriods.Add(change.Upsert?.Period);
            }

            if (write.Fence is { Lease: var lease })
            {
                _fences.Add((lease.Partition, lease.Epoch));
            }

            foreach (var change in write.Projections)
            {
                _projectionOrdinals.Add(ordinal);
                _projectionCollections.Add(change.Collection);
                _projectionTenants.Add(change.Tenant);
                _projectionIds.Add(change.Id);
                _projectionStatuses.Add(change.Upsert?.Status);
                _projectionOwners.Add(change.Upsert?.Owner);
                _projectionGroups.Add(change.Upsert?.Group);
                _projectionDocuments.Add(change.Upsert?.Document);
            }
        }
    }

    /// <summary>The fence arrays (<c>orch_fence</c>): each distinct (partition, epoch) the batch's writers hold.</summary>
    public void AddFenceParameters(NpgsqlParameterCollection parameters)
    {
        parameters.Add(new NpgsqlParameter { Value = _fences.Select(fence => fence.Partition).ToArray() });
        parameters.Add(new NpgsqlParameter { Value = _fences.Select(fence => fence.Epoch).ToArray() });
    }

    /// <summary>
    /// Marks the writes whose (partition, epoch) <c>orch_fence</c> reported stale (its message: <c>p:e,p:e</c>) as
    /// <see cref="StorageWrite.Fenced"/>, and returns the others, to be committed again without them.
    /// </summary>
    public List<StorageWrite> WithoutStale(string stalePairs)
    {
        var stale = stalePairs.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split(':'))
            .Select(pair => (int.Parse(pair[0], CultureInfo.InvariantCulture), long.Parse(pair[1], CultureInfo.InvariantCulture)))
            .ToHashSet();
        var rest = new List<StorageWrite>(_writes.Count);
        foreach (var write in _writes)
        {
            if (write.Fence is { Lease: var lease } && stale.Contains((lease.Partition, lease.Epoch)))
            {
                write.Fenced = true;
            }
            else
            {
                rest.Add(write);
            }
        }

        return rest;
    }

    public void AddParameters(NpgsqlParameterCollection parameters)
    {
        Add(_stateOrdinals.ToArray());
        Add(_stateTypes.ToArray());
        Add(_stateKeys.ToArray());
        Add(_stateNames.ToArray());
        Add(_stateData.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Json);
        Add(_expectedVersions.ToArray());
        Add(_deletes.ToArray());
        Add(_eventOrdinals.ToArray());
        Add(_eventNamespaces.ToArray());
        Add(_eventKeys.ToArray());
        Add(_eventTenants.ToArray());
        Add(_eventTypes.ToArray());
        Add(_eventTimes.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.TimestampTz);
        Add(_eventData.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Json);
        Add(_reminderOrdinals.ToArray());
        Add(_reminderTypes.ToArray());
        Add(_reminderKeys.ToArray());
        Add(_reminderNames.ToArray());
        Add(_reminderDueTimes.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.TimestampTz);
        Add(_reminderPeriods.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Interval);
        Add(_projectionOrdinals.ToArray());
        Add(_projectionCollections.ToArray());
        Add(_projectionTenants.ToArray());
        Add(_projectionIds.ToArray());
        Add(_projectionStatuses.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text);
        Add(_projectionOwners.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text);
        Add(_projectionGroups.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text);
        Add(_projectionDocuments.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Json);

        void Add(object value, NpgsqlDbType? type = null)
        {
            var parameter = new NpgsqlParameter { Value = value };
            if (type is { } dbType)
            {
                parameter.NpgsqlDbType = dbType;
            }

            parameters.Add(parameter);
        }
    }

    public void ApplyResults(int[] storedOrdinals, long[] storedVersions, long firstSequence)
    {
        var stored = new Dictionary<int, long>(storedOrdinals.Length);
        for (var i = 0; i < storedOrdinals.Length; i++)
        {
            stored[storedOrdinals[i]] = storedVersions[i];
        }

        foreach (var ordinal in _stateOrdinals)
        {
            if (stored.TryGetValue(ordinal, out var version))
            {
                _writes[ordinal].NewVersion = version;
            }
            else
            {
                _writes[ordinal].Conflict = true;
            }
        }

        var sequence = firstSequence;
        foreach (var write in _writes)
        {
            if (!write.Conflict && write.Events.Count > 0)
            {
                write.FirstSequence = sequence;
                sequence += write.Events.Count;
            }
        }
    }
}

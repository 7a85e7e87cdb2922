using Npgsql;

namespace Orchestration.Product.Bench;

/// <summary>
/// The baseline: what a competent team writes without a runtime. One table, one connection per agent, each statement
/// prepared and committed on its own (three commits per task: insert, claim, complete); the claim takes the best ready
/// row with <c>FOR UPDATE SKIP LOCKED</c> through a partial index of ready rows.
/// </summary>
internal sealed class SkipLockedBoard : ITaskBoard
{
    private const string Org = "bench";

    private readonly Agent[] _agents;

    private SkipLockedBoard(Agent[] agents) => _agents = agents;

    public static async Task<SkipLockedBoard> CreateAsync(string connectionString)
    {
        await using (var setup = new NpgsqlConnection(connectionString))
        {
            await setup.OpenAsync();
            await using var create = new NpgsqlCommand(
                """
                CREATE TABLE bench_tasks (
                    org text NOT NULL,
                    id text NOT NULL,
                    title text NOT NULL,
                    priority int NOT NULL,
                    status text NOT NULL,
                    attempt int NOT NULL,
                    agent_id text,
                    lease_expires_at timestamptz,
                    input jsonb,
                    output jsonb,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL,
                    PRIMARY KEY (org, id));
                CREATE INDEX bench_tasks_ready ON bench_tasks (org, priority DESC, created_at, id) WHERE status = 'ready';
                """,
                setup);
            await create.ExecuteNonQueryAsync();
        }

        var agents = new Agent[TaskLifecycle.Agents];
        for (var i = 0; i < agents.Length; i++)
        {
            agents[i] = await Agent.OpenAsync(connectionString, $"agent-{i}");
        }

        return new SkipLockedBoard(agents);
    }

    public async Task CreateAsync(int agent, string taskId)
    {
        var insert = _agents[agent].Insert;
        insert.Parameters[0].Value = taskId;
        await insert.ExecuteNonQueryAsync();
    }

    public async Task<ClaimedTask?> ClaimAsync(int agent)
    {
        await using var reader = await _agents[agent].Claim.ExecuteReaderAsync();
        return await reader.ReadAsync() ? new ClaimedTask(reader.GetString(0), reader.GetInt32(1)) : null;
    }

    public async Task CompleteAsync(int agent, ClaimedTask task)
    {
        var complete = _agents[agent].Complete;
        complete.Parameters[0].Value = task.TaskId;
        complete.Parameters[1].Value = task.Attempt;
        if (await complete.ExecuteNonQueryAsync() != 1)
        {
            throw new InvalidOperationException($"Agent {agent} lost the lease of {task.TaskId}.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            await agent.Connection.DisposeAsync();
        }

        NpgsqlConnection.ClearAllPools(); // the product's phase should not compete with idle baseline connections
    }

    private sealed record Agent(NpgsqlConnection Connection, NpgsqlCommand Insert, NpgsqlCommand Claim, NpgsqlCommand Complete)
    {
        public static async Task<Agent> OpenAsync(string connectionString, string agentId)
        {
            var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            var insert = Prepared(
                connection,
                $"INSERT INTO bench_tasks (org, id, title, priority, status, attempt, input, created_at, updated_at) VALUES ('{Org}', $1, 'bench task', 50, 'ready', 0, NULL, now(), now())",
                new NpgsqlParameter<string>());
            var claim = Prepared(
                connection,
                $"""
                UPDATE bench_tasks t SET status = 'claimed', agent_id = $1, attempt = t.attempt + 1, lease_expires_at = now() + interval '60 seconds', updated_at = now()
                FROM (SELECT id FROM bench_tasks WHERE org = '{Org}' AND status = 'ready' ORDER BY priority DESC, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) ready
                WHERE t.org = '{Org}' AND t.id = ready.id
                RETURNING t.id, t.attempt
                """,
                new NpgsqlParameter<string> { TypedValue = agentId });
            var complete = Prepared(
                connection,
                $$"""
                UPDATE bench_tasks SET status = 'completed', output = '{"ok":true}', agent_id = NULL, lease_expires_at = NULL, updated_at = now()
                WHERE org = '{{Org}}' AND id = $1 AND attempt = $2 AND agent_id = $3 AND status = 'claimed'
                """,
                new NpgsqlParameter<string>(),
                new NpgsqlParameter<int>(),
                new NpgsqlParameter<string> { TypedValue = agentId });
            await insert.PrepareAsync();
            await claim.PrepareAsync();
            await complete.PrepareAsync();
            return new Agent(connection, insert, claim, complete);
        }

        private static NpgsqlCommand Prepared(NpgsqlConnection connection, string sql, params NpgsqlParameter[] parameters)
        {
            var command = new NpgsqlCommand(sql, connection);
            command.Parameters.AddRange(parameters);
            return command;
        }
    }
}

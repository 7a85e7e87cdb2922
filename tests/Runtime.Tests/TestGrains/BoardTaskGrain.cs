using Orchestration.Runtime.Projections;

namespace Orchestration.Runtime.Tests.TestGrains;

public sealed class BoardTaskState
{
    public string Title { get; set; } = string.Empty;
}

/// <summary>A task on a board, keyed <c>{tenant}/{id}</c>, listed through the <c>tasks</c> projection.</summary>
public interface IBoardTaskGrain : IGrainWithStringKey
{
    /// <summary>Writes state and sets the row: one commit.</summary>
    Task SaveAsync(string title, string status);

    /// <summary>Sets the row and writes no state: committed alone at the end of the call.</summary>
    Task ProjectOnlyAsync(string title, string status);

    /// <summary>Writes state and sets the row, then throws.</summary>
    Task SaveThenFailAsync(string title);

    /// <summary>Sets the row, then throws before writing state.</summary>
    Task ProjectThenFailAsync(string title);

    /// <summary>Clears state and removes the row: one commit.</summary>
    Task RemoveAsync();
}

public sealed class BoardTaskGrain([PersistentState("task")] IPersistentState<BoardTaskState> task) : Grain, IBoardTaskGrain
{
    public const string Collection = "tasks";

    private string Tenant => TenantKey.Of(GetPrimaryKeyString());

    private string Id => GetPrimaryKeyString()[(Tenant.Length + 1)..];

    public async Task SaveAsync(string title, string status)
    {
        task.State.Title = title;
        Project(Row(title, status));
        await task.WriteStateAsync();
    }

    public Task ProjectOnlyAsync(string title, string status)
    {
        Project(Row(title, status));
        return Task.CompletedTask;
    }

    public async Task SaveThenFailAsync(string title)
    {
        task.State.Title = title;
        await task.WriteStateAsync();
        Project(Row(title, "failed"));
        throw new InvalidOperationException("fails after Project");
    }

    public async Task ProjectThenFailAsync(string title)
    {
        Project(Row(title, "failed"));
        await Task.Yield();
        throw new InvalidOperationException("fails after Project");
    }

    public async Task RemoveAsync()
    {
        RemoveProjection(Collection, Tenant, Id);
        await task.ClearStateAsync();
    }

    private ProjectionRow Row(string title, string status) =>
        new(Collection, Tenant, Id, $$"""{"title":"{{title}}"}""") { Status = status };
}

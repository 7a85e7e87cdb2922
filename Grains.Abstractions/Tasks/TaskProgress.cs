namespace Orchestration.Grains.Tasks;

/// <summary>The last progress an agent reported.</summary>
public sealed record TaskProgress(int? Percent, string? Message)
{
    /// <summary>No progress reported yet: percent and message <c>null</c> (API.md gives a task's progress as an object).</summary>
    public static TaskProgress None { get; } = new(null, null);
}

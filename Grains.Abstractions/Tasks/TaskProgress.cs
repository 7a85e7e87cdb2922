namespace Orchestration.Grains.Tasks;

/// <summary>The last progress an agent reported.</summary>
public sealed record TaskProgress(int? Percent, string? Message);

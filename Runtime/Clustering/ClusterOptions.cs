namespace Orchestration.Runtime.Clustering;

/// <summary>
/// Settings of a silo in a cluster (section <c>Cluster</c>). The defaults serve a kill -9'd silo's partitions
/// elsewhere within about 3 s, and let a renewal be late by about 1.5 s (a silo under heavy CPU load) before the silo
/// stops serving.
/// </summary>
public sealed class ClusterOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Cluster";

    /// <summary>The port this silo takes calls from other processes on; 0 picks a free one. Default 0.</summary>
    public int SiloPort { get; set; }

    /// <summary>The host name or address other processes reach this silo at. Default <c>127.0.0.1</c>.</summary>
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    /// <summary>How long a partition lease lasts after each renewal, by the database's clock. Default 2.5 s.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(2.5);

    /// <summary>How often leases are renewed, membership read and partitions rebalanced. Default 0.5 s.</summary>
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(0.5);

    /// <summary>
    /// How much earlier than the lease a silo stops serving, on its own monotonic clock counted from when it sent the
    /// renewal: room for clock-rate drift between the silo and the database. Default 0.5 s.
    /// </summary>
    public TimeSpan SafetyMargin { get; set; } = TimeSpan.FromSeconds(0.5);

    /// <summary>A silo whose heartbeat is older than this (by the database's clock) is declared dead. Default 5 s.</summary>
    public TimeSpan DeadAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a partition being handed over to another silo waits for its activations' turns, reminder ticks and
    /// stream deliveries to end before it is released anyway; what is still running then can no longer write: its
    /// writes are refused. Default 45 s: longer than a call's <c>ResponseTimeout</c> (30 s), so a call stuck in the hand-over times
    /// out first and the drain usually completes on its own.
    /// </summary>
    public TimeSpan HandOverTimeout { get; set; } = TimeSpan.FromSeconds(45);

    internal IEnumerable<string> Validate()
    {
        if (HandOverTimeout <= TimeSpan.Zero)
        {
            yield return "Cluster:HandOverTimeout must be positive.";
        }

        if (SiloPort is < 0 or > 65535)
        {
            yield return "Cluster:SiloPort must be between 0 and 65535.";
        }

        if (string.IsNullOrWhiteSpace(AdvertisedHost))
        {
            yield return "Cluster:AdvertisedHost must not be empty.";
        }

        if (RenewInterval <= TimeSpan.Zero)
        {
            yield return "Cluster:RenewInterval must be positive.";
        }

        if (SafetyMargin <= TimeSpan.Zero || SafetyMargin + RenewInterval >= LeaseDuration)
        {
            yield return "Cluster:SafetyMargin must be positive, and SafetyMargin + RenewInterval shorter than LeaseDuration.";
        }

        if (DeadAfter <= RenewInterval)
        {
            yield return "Cluster:DeadAfter must be longer than RenewInterval.";
        }
    }
}

namespace Orchestration.Runtime.Projections;

/// <summary>
/// The one rule that ties keys to tenants: the keys of tenant-scoped grains and streams begin with <c>{tenant}/</c>.
/// Storage records each event's tenant by this rule, and tenant-scoped reads filter on it.
/// </summary>
public static class TenantKey
{
    /// <summary>The tenant of <paramref name="key"/>: the part before the first <c>/</c>, or the whole key.</summary>
    public static string Of(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? key : key[..slash];
    }
}

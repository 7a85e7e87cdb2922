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
        var tenant = TenantPart(key);
        return tenant.Length == key.Length ? key : tenant.ToString();
    }

    /// <summary>
    /// Whether <see cref="Of"/>(<paramref name="key"/>) is <paramref name="tenant"/>, without making the string: live
    /// subscriptions test every event they are offered, so the test must not allocate.
    /// </summary>
    public static bool Belongs(string key, string? tenant) => tenant is not null && TenantPart(key).SequenceEqual(tenant);

    private static ReadOnlySpan<char> TenantPart(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? key : key.AsSpan(0, slash);
    }
}

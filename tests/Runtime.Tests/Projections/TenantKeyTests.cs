using Orchestration.Runtime.Projections;

namespace Orchestration.Runtime.Tests.Projections;

/// <summary><see cref="TenantKey.Belongs"/> answers exactly what comparing <see cref="TenantKey.Of"/> would.</summary>
public sealed class TenantKeyTests
{
    [Theory]
    [InlineData("acme/tasks/t1", "acme", true)]
    [InlineData("acme", "acme", true)]
    [InlineData("acme/", "acme", true)]
    [InlineData("/tasks", "", true)]
    [InlineData("acme-2/tasks", "acme", false)]
    [InlineData("acm/tasks", "acme", false)]
    [InlineData("acme/tasks", "acme/tasks", false)]
    [InlineData("acme/tasks", "ACME", false)]
    [InlineData("", "", true)]
    [InlineData("acme", null, false)]
    public void Belongs_AgreesWithOf(string key, string? tenant, bool belongs)
    {
        Assert.Equal(belongs, TenantKey.Of(key) == tenant);
        Assert.Equal(belongs, TenantKey.Belongs(key, tenant));
    }

    [Fact]
    public void Of_KeyWithoutSlash_IsTheKeyItself()
    {
        const string key = "acme";
        Assert.Same(key, TenantKey.Of(key));
        Assert.Equal("acme", TenantKey.Of("acme/a/b"));
    }
}

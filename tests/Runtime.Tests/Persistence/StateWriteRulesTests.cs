using Orchestration.Runtime.Persistence;

namespace Orchestration.Runtime.Tests.Persistence;

public sealed class StateWriteRulesTests
{
    [Theory]
    [MemberData(nameof(StateWriteRuleCases.Indexes), MemberType = typeof(StateWriteRuleCases))]
    public void Decide_RuleCase_MatchesRuleTable(int index)
    {
        var rule = StateWriteRuleCases.All[index];
        StoredVersion? stored = rule.Stored switch
        {
            StoredBefore.LiveAtTwo => new StoredVersion(2, IsTombstone: false),
            StoredBefore.TombstoneAtThree => new StoredVersion(3, IsTombstone: true),
            _ => null,
        };

        var decision = StateWriteRules.Decide(stored, rule.ExpectedVersion, rule.IsDelete);

        Assert.Equal((rule.Conflict, rule.NewVersion), (decision.Conflict, decision.NewVersion));
    }

    [Fact]
    public void Decide_DeleteOfLiveRow_LeavesTombstoneWithNextVersion()
    {
        var decision = StateWriteRules.Decide(new StoredVersion(2, IsTombstone: false), 2, isDelete: true);

        Assert.Equal(new StateWriteDecision(StateRowChange.Tombstone, 3), decision);
    }

    [Fact]
    public void Decide_NegativeExpectedVersion_Conflicts() =>
        Assert.True(StateWriteRules.Decide(null, -1, isDelete: false).Conflict);
}

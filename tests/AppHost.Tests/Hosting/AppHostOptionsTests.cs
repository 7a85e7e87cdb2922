using Orchestration.AppHost.Hosting;

namespace Orchestration.AppHost.Tests.Hosting;

public sealed class AppHostOptionsTests
{
    [Fact]
    public void Parse_NoArguments_RunsEmbedded()
    {
        var options = AppHostOptions.Parse([]);

        Assert.False(options.Cluster);
        Assert.Null(options.Publisher);
        Assert.Empty(options.Errors);
    }

    [Fact]
    public void Parse_ClusterWithSilosAndWithout_TakesThemAll()
    {
        var options = AppHostOptions.Parse(["--cluster", "--silos", "5", "--without", "api", "--without", "web,other"]);

        Assert.True(options.Cluster);
        Assert.Equal(5, options.Silos);
        Assert.Equal(["api", "other", "web"], options.Without);
        Assert.Empty(options.Errors);
    }

    [Fact]
    public void Parse_Publisher_DescribesTheClusterModel()
    {
        var options = AppHostOptions.Parse(["--publisher", "manifest", "--output-path", "out/m.json"]);

        Assert.True(options.Cluster);
        Assert.Equal("manifest", options.Publisher);
        Assert.Equal("out/m.json", options.OutputPath);
    }

    [Fact]
    public void Parse_SeveralMistakes_ReportsEveryOneTogether()
    {
        var options = AppHostOptions.Parse(["--silos", "0", "--publisher", "docker", "--bogus", "--without"]);

        Assert.Equal(
            [
                "--silos takes a whole number of at least 1, not '0'.",
                "--publisher 'docker' is unknown; the only publisher is 'manifest'.",
                "'--bogus' is not an option.",
                "--without needs a value.",
                "--silos needs --cluster.",
            ],
            options.Errors);
    }
}

using Orchestration.Silo.Extensions;

namespace Orchestration.Silo;

// An explicit entry point: the Api references this project for embedded mode, and two global top-level
// `Program` classes would collide there.
internal sealed class Program
{
    private static void Main(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);

        builder.AddServiceDefaults();
        builder.AddSiloServices();

        var app = builder.Build();

        app.MapDefaultEndpoints();

        app.Run();
    }
}

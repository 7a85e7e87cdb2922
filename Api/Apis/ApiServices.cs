using Microsoft.Extensions.Options;
using Orchestration.Api.Extensions;
using Orchestration.Runtime;
using Orchestration.Runtime.Projections;

namespace Orchestration.Api.Apis;

/// <summary>What the resource handlers depend on, bound with <c>[AsParameters]</c>.</summary>
internal sealed record ApiServices(IGrainFactory Grains, IProjectionStore Projections, TimeProvider Time, IOptions<ApiOptions> Options);

using System.Diagnostics.CodeAnalysis;
using AgentConcurrency;

namespace AgentApi;

/// <summary>The agents this API serves, by id: the definitions registered with <c>AddAgents</c>.</summary>
internal sealed class AgentCatalog(IEnumerable<AgentDef> agents)
{
    private readonly Dictionary<string, AgentDef> _agents = agents.ToDictionary(agent => agent.Id, StringComparer.Ordinal);

    public bool TryGet(string agentId, [NotNullWhen(true)] out AgentDef? agent) => _agents.TryGetValue(agentId, out agent);
}

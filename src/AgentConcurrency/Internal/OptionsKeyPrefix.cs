namespace AgentConcurrency.Internal;

/// <summary>The configuration path the options were bound from, which names each key in validation messages.</summary>
/// <param name="Path">For example <c>AgentConcurrency</c>; empty when bound from the configuration root.</param>
internal sealed record OptionsKeyPrefix(string Path)
{
    /// <summary>The full key of an option, for example <c>AgentConcurrency:MaxParallelRuns</c>.</summary>
    public string KeyOf(string message) => Path.Length == 0 ? message : Path + ":" + message;
}

using System.Reflection;

namespace AgentConcurrency.Redis.Internal;

/// <summary>One Lua script: the shared steps (<c>common.lua</c>) followed by the operation's own, as embedded in the package.</summary>
internal sealed class RedisScript
{
    private static readonly string Common = Read("common");

    private RedisScript(string name) => Text = Common + "\n" + Read(name);

    public static RedisScript Acquire { get; } = new("acquire");

    public static RedisScript Release { get; } = new("release");

    public static RedisScript PinSession { get; } = new("pin-session");

    public static RedisScript StartRun { get; } = new("start-run");

    public static RedisScript EndSession { get; } = new("end-session");

    public static RedisScript LeaveQueue { get; } = new("leave-queue");

    public static RedisScript Claim { get; } = new("claim");

    public static RedisScript Heartbeat { get; } = new("heartbeat");

    public static RedisScript Retire { get; } = new("retire");

    public static RedisScript Status { get; } = new("status");

    /// <summary>The script's text; the client sends its SHA-1 (EVALSHA) once Redis has seen it.</summary>
    public string Text { get; }

    private static string Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"AgentConcurrency.Redis.Scripts.{name}.lua")
            ?? throw new InvalidOperationException($"The script '{name}.lua' is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

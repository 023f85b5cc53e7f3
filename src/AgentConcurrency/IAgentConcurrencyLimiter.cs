namespace AgentConcurrency;

/// <summary>
/// Limits how many agent runs are active at once: per agent, per source, and globally by sessions and runs.
/// </summary>
public interface IAgentConcurrencyLimiter
{
    /// <summary>Acquires a slot of <paramref name="agent"/> for a new anonymous run, waiting if the limits say so.</summary>
    /// <param name="agent">The agent; its <see cref="AgentDef.MaxConcurrency"/> sets the gate's limit unless the options override it.</param>
    /// <param name="cancellationToken">Cancels the wait; an already-cancelled token fails at once, even with room.</param>
    /// <returns>
    /// The slot; dispose it to release the run. Like every <see cref="ValueTask{TResult}"/>, take its outcome once: await
    /// it once, or call <see cref="ValueTask{TResult}.AsTask"/> to await it again or combine it (a waiting request's
    /// ValueTask is backed by an object the limiter reuses for a later request).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="agent"/> or its id is null.</exception>
    /// <exception cref="ArgumentException">The agent's id is empty or whitespace.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The agent's <see cref="AgentDef.MaxConcurrency"/> is below 1.</exception>
    /// <exception cref="ObjectDisposedException">The limiter was disposed, before or while the request waited.</exception>
    /// <exception cref="ConcurrencyLimitExceededException">The request was refused; <see cref="ConcurrencyLimitExceededException.ErrorCode"/> says why.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the exception carries it.</exception>
    ValueTask<AgentSlot> AcquireAsync(AgentDef agent, CancellationToken cancellationToken = default);

    /// <summary>Acquires a slot of <paramref name="agent"/>, waiting if the limits say so.</summary>
    /// <param name="agent">The agent; its <see cref="AgentDef.MaxConcurrency"/> sets the gate's limit unless the options override it.</param>
    /// <param name="options">The request's ids, priority, queue timeout and queue callback.</param>
    /// <param name="cancellationToken">Cancels the wait; an already-cancelled token fails at once, even with room.</param>
    /// <returns>
    /// The slot; dispose it to release the run. Like every <see cref="ValueTask{TResult}"/>, take its outcome once: await
    /// it once, or call <see cref="ValueTask{TResult}.AsTask"/> to await it again or combine it (a waiting request's
    /// ValueTask is backed by an object the limiter reuses for a later request).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="agent"/>, its id or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// An id is empty or whitespace, or the run id is active for another agent, agent-less, or in another session.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">The agent's <see cref="AgentDef.MaxConcurrency"/> is below 1, or the queue timeout is negative or longer than 49.7 days, and not infinite.</exception>
    /// <exception cref="ObjectDisposedException">The limiter was disposed, before or while the request waited.</exception>
    /// <exception cref="ConcurrencyLimitExceededException">The request was refused; <see cref="ConcurrencyLimitExceededException.ErrorCode"/> says why.</exception>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancellationToken"/> was cancelled before a slot was handed to the caller; the exception carries
    /// it, and a slot granted in the meantime has gone back. Once the returned task has completed with a slot, a cancel
    /// changes nothing.
    /// </exception>
    ValueTask<AgentSlot> AcquireAsync(AgentDef agent, AcquireOptions options, CancellationToken cancellationToken = default);

    /// <summary>Acquires a slot of <paramref name="agent"/> if every limit has room now; never waits.</summary>
    /// <param name="agent">The agent; its <see cref="AgentDef.MaxConcurrency"/> sets the gate's limit unless the options override it.</param>
    /// <param name="options">The request's ids and source; <see langword="null"/> for none. Priority, timeout and callback do not apply.</param>
    /// <param name="slot">The slot when the method returns <see langword="true"/>; otherwise the <see langword="default"/> slot.</param>
    /// <returns><see langword="true"/> when the slot was acquired.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="agent"/> or its id is null.</exception>
    /// <exception cref="ArgumentException">An id is empty or whitespace, or the run id is active for another agent, agent-less, or in another session.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The agent's <see cref="AgentDef.MaxConcurrency"/> is below 1, or the queue timeout is negative or longer than 49.7 days, and not infinite.</exception>
    /// <exception cref="ObjectDisposedException">The limiter was disposed.</exception>
    bool TryAcquire(AgentDef agent, AcquireOptions? options, out AgentSlot slot);

    /// <summary>
    /// Pins a session slot: the session stays active, with or without runs, until <see cref="ReleaseSessionSlot"/>.
    /// Pinning an active session again succeeds and counts once. Never waits.
    /// </summary>
    /// <param name="sessionId">The session's id.</param>
    /// <returns>Success, or <see cref="ConcurrencyErrorCode.MaxSessionsExceeded"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sessionId"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="sessionId"/> is empty or whitespace.</exception>
    /// <exception cref="ObjectDisposedException">The limiter was disposed.</exception>
    SlotResult TryAcquireSessionSlot(string sessionId);

    /// <summary>
    /// Takes a run slot with no agent for <paramref name="runId"/> in <paramref name="sessionId"/>, taking the session's
    /// slot too if it is not active. The same run id again succeeds and counts once. Never waits.
    /// </summary>
    /// <param name="sessionId">The session the run belongs to.</param>
    /// <param name="runId">The run's id; run ids are global.</param>
    /// <returns>Success, <see cref="ConcurrencyErrorCode.MaxSessionsExceeded"/> or <see cref="ConcurrencyErrorCode.MaxRunsExceeded"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="sessionId"/> or <paramref name="runId"/> is null.</exception>
    /// <exception cref="ArgumentException">An id is empty or whitespace, or the run is active in another session.</exception>
    /// <exception cref="ObjectDisposedException">The limiter was disposed.</exception>
    SlotResult TryAcquireRunSlot(string sessionId, string runId);

    /// <summary>
    /// Releases the run with this id, whoever took it; its agent permit comes back and its slots become inert.
    /// Does nothing for an unknown id or after disposal.
    /// </summary>
    /// <param name="runId">The run's id.</param>
    /// <exception cref="ArgumentNullException"><paramref name="runId"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="runId"/> is empty or whitespace.</exception>
    void ReleaseRunSlot(string runId);

    /// <summary>
    /// Fails every queued request of the session with <see cref="ConcurrencyErrorCode.SessionReleased"/>, then releases
    /// the session and all its runs (their agent permits come back, their slots become inert). Does nothing for an id
    /// that is neither active nor queued, or after disposal.
    /// </summary>
    /// <param name="sessionId">The session's id.</param>
    /// <exception cref="ArgumentNullException"><paramref name="sessionId"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="sessionId"/> is empty or whitespace.</exception>
    void ReleaseSessionSlot(string sessionId);

    /// <summary>Takes a consistent snapshot of every counter and queue. Works after disposal too.</summary>
    /// <returns>The snapshot.</returns>
    ConcurrencyStatus GetStatus();
}

namespace AgentConcurrency.Internal;

/// <summary>An active session: pinned or not, and its runs as an intrusive list. Guarded by the state's lock.</summary>
internal sealed class SessionRecord(string id)
{
    public string Id { get; } = id;

    /// <summary>Taken with TryAcquireSessionSlot: stays active with no runs until released by id.</summary>
    public bool Pinned { get; set; }

    public int RunCount { get; private set; }

    public RunRecord? FirstRun { get; private set; }

    public void AddRun(RunRecord run)
    {
        run.Session = this;
        run.SessionNext = FirstRun;
        if (FirstRun is not null)
        {
            FirstRun.SessionPrevious = run;
        }

        FirstRun = run;
        RunCount++;
    }

    public void RemoveRun(RunRecord run)
    {
        if (run.SessionPrevious is null)
        {
            FirstRun = run.SessionNext;
        }
        else
        {
            run.SessionPrevious.SessionNext = run.SessionNext;
        }

        if (run.SessionNext is not null)
        {
            run.SessionNext.SessionPrevious = run.SessionPrevious;
        }

        run.Session = null;
        run.SessionPrevious = null;
        run.SessionNext = null;
        RunCount--;
    }
}

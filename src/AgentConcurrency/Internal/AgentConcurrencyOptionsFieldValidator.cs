using Microsoft.Extensions.Options;

namespace AgentConcurrency.Internal;

/// <summary>Checks the rules declared on each field of <see cref="AgentConcurrencyOptions"/> by attributes; generated at build time, no reflection.</summary>
[OptionsValidator]
internal sealed partial class AgentConcurrencyOptionsFieldValidator : IValidateOptions<AgentConcurrencyOptions>;

using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace AgentConcurrency.Internal;

/// <summary>
/// An optional whole number that, when set, must be at least <see cref="Minimum"/>. Unlike <see cref="RangeAttribute"/>,
/// its message names the value found ("MaxParallelRuns must be at least 1, was 0."), so a bad configuration can be
/// fixed from the message alone.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class AtLeastAttribute(int minimum) : ValidationAttribute
{
    public int Minimum { get; } = minimum;

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is int number && number < Minimum
            // No member names: the options validation result would prefix them, and the message starts with the name already.
            ? new ValidationResult(Message(validationContext.MemberName, Minimum, number))
            : ValidationResult.Success;

    /// <summary>The one wording of the rule, also used for the values no attribute can reach (the entries of AgentLimits).</summary>
    public static string Message(string? name, int minimum, int value) =>
        string.Create(CultureInfo.InvariantCulture, $"{name} must be at least {minimum}, was {value}.");
}

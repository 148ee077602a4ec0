using System.Globalization;

namespace ChatNode.Auth;

/// <summary>
/// Durations as people write them on command lines (token lifetimes, tool options): a number and one unit,
/// <c>s</c>, <c>m</c>, <c>h</c> or <c>d</c>, such as <c>90s</c>, <c>30m</c>, <c>24h</c>, <c>1.5d</c>; <c>0s</c> is zero.
/// </summary>
public static class DurationText
{
    /// <summary>Parses <paramref name="text"/>; false for anything else (no unit, negative, unknown unit).</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text) || text.Length < 2
            || !double.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)
            || number < 0 || double.IsInfinity(number))
        {
            return false;
        }

        TimeSpan? parsed = text[^1] switch
        {
            's' => TimeSpan.FromSeconds(number),
            'm' => TimeSpan.FromMinutes(number),
            'h' => TimeSpan.FromHours(number),
            'd' => TimeSpan.FromDays(number),
            _ => null,
        };
        duration = parsed ?? TimeSpan.Zero;
        return parsed is not null;
    }
}

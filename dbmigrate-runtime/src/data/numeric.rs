//! Exact decimals as text, and PostgreSQL's binary `NUMERIC` format, so a `Value::Decimal` goes to
//! and from PostgreSQL digit for digit, with its scale, at any precision the column allows.
//!
//! The wire format (PostgreSQL's `numeric_send`): `ndigits`, `weight`, `sign`, `dscale` as 16-bit
//! big-endian integers, then `ndigits` base-10000 digits, most significant first, the first one
//! standing for `10000^weight`; `dscale` is the number of decimal digits after the point.

/// PostgreSQL's special values, spelled as it prints them.
const SPECIAL: [&str; 3] = ["NaN", "Infinity", "-Infinity"];

/// Whether `text` is a decimal a [`super::Value::Decimal`] may hold: an optional sign, digits, and
/// optionally a point followed by digits; or one of PostgreSQL's `NaN`, `Infinity`, `-Infinity`.
pub(crate) fn is_decimal(text: &str) -> bool {
    if is_special(text) {
        return true;
    }
    let body = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    let (whole, fraction) = body.split_once('.').unwrap_or((body, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// Whether `text` is one of the special values only PostgreSQL stores.
pub(crate) fn is_special(text: &str) -> bool {
    SPECIAL.contains(&text)
}

#[cfg(feature = "postgres")]
pub(crate) use postgres::{decode, encode};

#[cfg(feature = "postgres")]
mod postgres {
    const POSITIVE: u16 = 0x0000;
    const NEGATIVE: u16 = 0x4000;
    const NAN: u16 = 0xC000;
    const INFINITY: u16 = 0xD000;
    const NEGATIVE_INFINITY: u16 = 0xF000;
    /// PostgreSQL's largest display scale.
    const MAX_SCALE: usize = 0x3FFF;

    /// Appends the binary `NUMERIC` for `text`, which [`super::is_decimal`] accepted.
    pub(crate) fn encode(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
        let header = |out: &mut Vec<u8>, ndigits: i16, weight: i16, sign: u16, scale: u16| {
            out.extend_from_slice(&ndigits.to_be_bytes());
            out.extend_from_slice(&weight.to_be_bytes());
            out.extend_from_slice(&sign.to_be_bytes());
            out.extend_from_slice(&scale.to_be_bytes());
        };
        let special = match text {
            "NaN" => Some(NAN),
            "Infinity" => Some(INFINITY),
            "-Infinity" => Some(NEGATIVE_INFINITY),
            _ => None,
        };
        if let Some(sign) = special {
            header(out, 0, 0, sign, 0);
            return Ok(());
        }
        let (negative, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
        let whole = whole.trim_start_matches('0');
        if fraction.len() > MAX_SCALE {
            return Err(format!(
                "{} digits after the point; PostgreSQL's NUMERIC keeps at most {MAX_SCALE}",
                fraction.len()
            ));
        }
        // Base-10000 digits aligned on the point: the whole part padded on the left, the fraction
        // on the right, to multiples of four decimal digits.
        let whole_groups = whole.len().div_ceil(4);
        let fraction_groups = fraction.len().div_ceil(4);
        let mut decimal = String::with_capacity((whole_groups + fraction_groups) * 4);
        decimal.extend(std::iter::repeat_n('0', whole_groups * 4 - whole.len()));
        decimal.push_str(whole);
        decimal.push_str(fraction);
        decimal.extend(std::iter::repeat_n(
            '0',
            fraction_groups * 4 - fraction.len(),
        ));
        let mut digits: Vec<i16> = decimal
            .as_bytes()
            .chunks(4)
            .map(|chunk| {
                chunk
                    .iter()
                    .fold(0_i16, |n, digit| n * 10 + i16::from(digit - b'0'))
            })
            .collect();
        let mut weight = i64::try_from(whole_groups).unwrap_or(i64::MAX) - 1;
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..leading);
        weight -= i64::try_from(leading).unwrap_or(0);
        while digits.last() == Some(&0) {
            digits.pop();
        }
        let (weight, sign) = if digits.is_empty() {
            (0, POSITIVE)
        } else {
            (weight, if negative { NEGATIVE } else { POSITIVE })
        };
        let (Ok(ndigits), Ok(weight)) = (i16::try_from(digits.len()), i16::try_from(weight)) else {
            return Err("more digits than PostgreSQL's NUMERIC holds".to_string());
        };
        header(out, ndigits, weight, sign, fraction.len() as u16);
        for digit in digits {
            out.extend_from_slice(&digit.to_be_bytes());
        }
        Ok(())
    }

    /// The text PostgreSQL would print for a binary `NUMERIC`.
    pub(crate) fn decode(bytes: &[u8]) -> Result<String, String> {
        let word = |i: usize| -> Result<u16, String> {
            bytes
                .get(i * 2..i * 2 + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "truncated NUMERIC value".to_string())
        };
        let ndigits = usize::from(word(0)?);
        let weight = i64::from(word(1)? as i16);
        let sign = word(2)?;
        let scale = usize::from(word(3)?);
        let digits = (0..ndigits)
            .map(|i| word(4 + i))
            .collect::<Result<Vec<u16>, String>>()?;
        match sign {
            NAN => return Ok("NaN".into()),
            INFINITY => return Ok("Infinity".into()),
            NEGATIVE_INFINITY => return Ok("-Infinity".into()),
            POSITIVE | NEGATIVE => {}
            other => return Err(format!("unknown NUMERIC sign {other:#x}")),
        }
        let digit = |index: i64| -> u16 {
            usize::try_from(index)
                .ok()
                .and_then(|i| digits.get(i).copied())
                .unwrap_or(0)
        };
        let mut out = String::new();
        if sign == NEGATIVE && digits.iter().any(|&d| d != 0) {
            out.push('-');
        }
        if weight < 0 {
            out.push('0');
        } else {
            out.push_str(&digit(0).to_string());
            for index in 1..=weight {
                out.push_str(&format!("{:04}", digit(index)));
            }
        }
        if scale > 0 {
            out.push('.');
            let mut fraction = String::with_capacity(scale + 4);
            let mut index = weight + 1;
            while fraction.len() < scale {
                fraction.push_str(&format!("{:04}", digit(index)));
                index += 1;
            }
            fraction.truncate(scale);
            out.push_str(&fraction);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_decimals_only() {
        for good in ["0", "-0.001", "1.10", "+7", "007", "NaN", "-Infinity"] {
            assert!(is_decimal(good), "{good}");
        }
        for bad in ["", "-", "1.", ".5", "1e5", "1,5", "nan", " 1", "0x10"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn numeric_round_trips_digit_for_digit() {
        let cases = [
            ("0", "0"),
            ("0.000", "0.000"),
            ("-0.00", "0.00"),
            ("1.10", "1.10"),
            ("007", "7"),
            ("+12345.6789", "12345.6789"),
            ("-0.00012", "-0.00012"),
            ("10000", "10000"),
            ("100000000.00000001", "100000000.00000001"),
            (
                "-99999999999999999999999999999999999.999999999999999999999999999999",
                "-99999999999999999999999999999999999.999999999999999999999999999999",
            ),
            ("NaN", "NaN"),
            ("Infinity", "Infinity"),
            ("-Infinity", "-Infinity"),
        ];
        for (text, printed) in cases {
            let mut wire = Vec::new();
            encode(text, &mut wire).unwrap();
            assert_eq!(decode(&wire).unwrap(), printed, "{text}");
        }
        // 1.5 as PostgreSQL sends it: one digit each side of the point.
        let wire = [0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88];
        assert_eq!(decode(&wire).unwrap(), "1.5");
    }
}

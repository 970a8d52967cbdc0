//! refinery's migration checksum, reproduced bit for bit so a history table written by either tool verifies with the other.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

use crate::revision::VersionWidth;

/// Computes refinery's checksum of a migration: SipHash-1-3 (keys 0, 0) over the name, the version
/// in the configured width and the SQL text, exactly as `refinery_core::Migration` hashes them.
///
/// No normalisation happens: a file checked out with CRLF has a different checksum than with LF.
pub fn refinery_checksum(name: &str, version: i64, width: VersionWidth, sql: &str) -> u64 {
    let mut hasher = SipHasher13::new_with_keys(0, 0);
    // refinery hashes through `Hash for str`, which writes the bytes followed by 0xFF.
    hasher.write(name.as_bytes());
    hasher.write_u8(0xff);
    match width {
        // The version can only be out of range if the caller skipped validation; refinery would
        // refuse such a file too, so truncation here never produces a stored checksum.
        VersionWidth::I32 => hasher.write(&(version as i32).to_le_bytes()),
        VersionWidth::I64 => hasher.write(&version.to_le_bytes()),
    }
    hasher.write(sql.as_bytes());
    hasher.write_u8(0xff);
    hasher.finish()
}

/// A checksum of a revision's statements, used to tell that statements which already ran are
/// unchanged before a failed revision is resumed.
pub fn statements_checksum<'a>(statements: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = SipHasher13::new_with_keys(0, 0);
    for statement in statements {
        hasher.write(statement.as_bytes());
        hasher.write_u8(0xff);
    }
    hasher.finish().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vectors() {
        let i32w = VersionWidth::I32;
        assert_eq!(
            refinery_checksum("initial", 1, i32w, "CREATE TABLE t(id int);"),
            15999126591158601256
        );
        assert_eq!(
            refinery_checksum("initial", 1, i32w, ""),
            799725506757761688
        );
        assert_eq!(
            refinery_checksum("add_cars", 2, i32w, "CREATE TABLE t(id int);\n"),
            16812762768370939539
        );
        assert_eq!(
            refinery_checksum("x", 3, i32w, "CREATE TABLE t(id int);\r\n"),
            8418177718048008767
        );
        assert_eq!(
            refinery_checksum("initial", 1, VersionWidth::I64, "CREATE TABLE t(id int);"),
            13491408790475750666
        );
    }
}

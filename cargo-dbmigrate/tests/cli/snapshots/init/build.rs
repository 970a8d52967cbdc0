// Embeds the revision directory into the binary; cargo rebuilds whenever a revision is added,
// edited or removed, and a broken revision chain fails the build.
fn main() {
    dbmigrate_runtime::build::embed();
}

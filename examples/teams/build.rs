//! Embeds `migrations/`: adding, editing or removing a revision rebuilds the binary.

fn main() {
    dbmigrate_runtime::build::embed();
}

// Content is embedded with include_dir, which cannot tell cargo which files it read: rebuild
// whenever any content file changes.
fn main() {
    println!("cargo:rerun-if-changed=dialogues");
    println!("cargo:rerun-if-changed=locales");
}

//! `completions`: a script per shell, generated from the command line's definition.

use crate::support::Sandbox;

#[test]
fn every_shell_gets_a_script_for_cargo_dbmigrate() {
    let sandbox = Sandbox::new();
    for (shell, registers) in [
        ("bash", "complete -F _cargo"),
        ("zsh", "#compdef cargo"),
        ("fish", "complete -c cargo"),
        (
            "powershell",
            "Register-ArgumentCompleter -Native -CommandName 'cargo'",
        ),
    ] {
        let output = sandbox.cmd(&["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        assert!(output.stderr.is_empty(), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains(registers), "{shell}: {script}");
        for word in [
            "dbmigrate",
            "upgrade",
            "rebase",
            "database-url",
            "completions",
        ] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
}

#[test]
fn bash_completes_commands_and_their_options() {
    let sandbox = Sandbox::new();
    let output = sandbox.cmd(&["completions", "bash"]).output().unwrap();
    std::fs::write(sandbox.path().join("cargo.bash"), &output.stdout).unwrap();
    // What bash does on <TAB>: the words so far, then the completion function.
    let complete = |words: &str| {
        let script = format!(
            "source ./cargo.bash\nCOMP_WORDS=({words})\nCOMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
             _cargo cargo \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let output = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(sandbox.path())
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(complete("cargo dbmigrate re"), "rebase\nresolve\nrepair\n");
    assert_eq!(complete("cargo dbmigrate show --for"), "--format\n");
    assert_eq!(complete("cargo dbmigrate completions p"), "powershell\n");
}

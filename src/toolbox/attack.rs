//! `attack NAME`: stage 08's attacks that no shell tool makes, as the system calls themselves.
//!
//! Each exits 0 when the attack worked and 1 when the kernel refused it, printing what it tried
//! and the errno, so that the attack lab can run it at 07 and at 08 and compare:
//! - `keyctl`: add_key(2) to the process keyring. Keys are not namespaced per container: Docker's
//!   seccomp profile refuses the key syscalls.
//! - `setuid`: as root, copy this program to /tmp with the setuid bit, then run the copy as uid
//!   1000: the copy runs with euid 0 again, unless no_new_privs is set (then execve ignores the
//!   bit). `euid` is what the copy runs: it exits 0 when its effective uid is 0, and prints nothing.

use super::Failure;
use std::ffi::CString;
use std::io;

pub fn main(args: &[String]) -> Result<i32, Failure> {
    match args {
        [name] if name == "keyctl" => keyctl(),
        [name] if name == "setuid" => setuid(),
        [name] if name == "euid" => euid(),
        _ => Err(Failure::Usage("name one attack: keyctl, setuid (or euid)".into())),
    }
}

fn report(what: &str, rc: i64) -> Result<i32, Failure> {
    if rc < 0 {
        println!("{what}: {}", io::Error::last_os_error());
        Ok(1)
    } else {
        println!("{what}: worked");
        Ok(0)
    }
}

fn keyctl() -> Result<i32, Failure> {
    const KEY_SPEC_PROCESS_KEYRING: i64 = -2;
    let (kind, desc, data) = (c"user", c"workshop-attack", b"x");
    // SAFETY: valid C strings and a 1-byte payload; add_key copies them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            kind.as_ptr(),
            desc.as_ptr(),
            data.as_ptr(),
            data.len(),
            KEY_SPEC_PROCESS_KEYRING,
        )
    };
    report("add_key(\"user\", …, KEY_SPEC_PROCESS_KEYRING)", rc)
}

/// Silent: its exit status is the answer, and `setuid` says it in words.
fn euid() -> Result<i32, Failure> {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    Ok(if euid == 0 { 0 } else { 1 })
}

fn setuid() -> Result<i32, Failure> {
    let copy = "/tmp/attack-setuid";
    std::fs::copy("/proc/self/exe", copy)?;
    let path = CString::new(copy).map_err(io::Error::other)?;
    // SAFETY: a valid path; chown and chmod take plain integers.
    unsafe {
        if libc::chown(path.as_ptr(), 0, 0) != 0 || libc::chmod(path.as_ptr(), 0o4755) != 0 {
            return Err(io::Error::last_os_error().into());
        }
    }
    // SAFETY: the child only makes system calls before execv or _exit.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error().into()),
        0 => {
            let argv = [c"attack".as_ptr(), c"euid".as_ptr(), std::ptr::null()];
            // SAFETY: plain system calls; argv is NULL-terminated.
            unsafe {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setresgid(1000, 1000, 1000) != 0
                    || libc::setresuid(1000, 1000, 1000) != 0
                {
                    libc::_exit(2);
                }
                libc::execv(path.as_ptr(), argv.as_ptr());
                libc::_exit(3)
            }
        }
        child => {
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(child, &mut status, 0) };
            let _ = std::fs::remove_file(copy);
            let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 4 };
            match code {
                0 => println!("uid 1000 ran a setuid-root copy: it is root again"),
                1 => println!("uid 1000 ran a setuid-root copy: it stayed uid 1000"),
                _ => println!("could not become uid 1000 to try (status {code})"),
            }
            Ok(if code == 0 { 0 } else { 1 })
        }
    }
}

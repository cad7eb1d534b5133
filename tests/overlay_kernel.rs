//! The overlay library on the real kernel: every mount is made in a forked child, in its own mount
//! namespace with private propagation, on a small base made here (a few files, not the real rootfs).
//! The store and state directories live in a scratch directory under TMPDIR, removed afterwards.
//!
//! The tests run one at a time (`common::serial`): fork(2) in a process whose other threads are busy
//! can copy a lock they hold (the allocator's, stdout's) into the child, which then waits forever.

mod common;

use anyhow::{ensure, Context};
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use workshop::overlay::failures::{self, Mistake};
use workshop::overlay::inspect::{self, LayerRef, Origin, UpperEntry};
use workshop::overlay::{disk, images, layer, mount, ContainerLayer, OverlayOptions};

/// A scratch directory with a store, a state dir and a small base root filesystem, removed on drop
/// (after checking nothing of it is left in this mount namespace's mount table).
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir()
            .join(format!("workshop-overlay-kernel-{}-{name}", std::process::id()));
        let _ = workshop::overlay::container_layer::remove_tree(&dir);
        let base = dir.join("rootfs");
        for (rel, text) in [
            ("etc/hostname", "base\n"),
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
            ("etc/motd", "welcome\n"),
            ("bin/hello", "#!/bin/sh\necho hello\n"),
        ] {
            fs::create_dir_all(base.join(rel).parent().unwrap()).unwrap();
            fs::write(base.join(rel), text).unwrap();
        }
        fs::create_dir(base.join("tmp")).unwrap();
        fs::set_permissions(base.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        Scratch { dir }
    }
    fn store(&self) -> PathBuf {
        self.dir.join("store")
    }
    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }
    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    /// An empty directory to mount on.
    fn target(&self, name: &str) -> PathBuf {
        let t = self.dir.join("mnt").join(name);
        fs::create_dir_all(&t).unwrap();
        t
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let here = self.dir.to_string_lossy().into_owned();
        let leaked = mounts.lines().any(|l| l.contains(&here));
        workshop::overlay::container_layer::remove_tree(&self.dir).unwrap();
        if !std::thread::panicking() {
            assert!(!leaked, "a mount under {here} was left in the host's mount table");
            assert!(!self.dir.exists(), "the scratch store was left behind");
        }
    }
}

/// Runs `f` in a forked child, in a new mount namespace made private first (so nothing it mounts
/// reaches this one), and fails the test with the child's error if it had one.
fn in_own_mount_namespace(f: impl FnOnce() -> anyhow::Result<()>) {
    in_child(Namespaces::Mount, f)
}

/// The namespaces a test child makes.
#[derive(Clone, Copy)]
enum Namespaces {
    /// A private mount namespace.
    Mount,
    /// First a user namespace where this process's uid and gid map to root (as `unshare --user
    /// --map-root-user` does), so the mount namespace belongs to it and the overlay is mounted the
    /// way an unprivileged user's would be.
    MapRoot,
    /// A user namespace whose root is this host uid (and gid), 65536 ids from there, the maps
    /// written by the parent as 05_user does; the child becomes that root.
    Remap(u32),
}

fn in_child(ns: Namespaces, f: impl FnOnce() -> anyhow::Result<()>) {
    let before = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let pipe = || {
        let (r, w) = nix::unistd::pipe().unwrap();
        (fs::File::from(r), fs::File::from(w))
    };
    let (mut read, write) = pipe();
    let (mut ready_r, ready_w) = pipe();
    let (go_r, mut go_w) = pipe();
    // SAFETY: the child only makes syscalls and runs `f`, then leaves with _exit.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            drop((read, ready_r, go_w));
            let (mut ready_w, mut go_r) = (ready_w, go_r);
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> anyhow::Result<()> {
                    match ns {
                        Namespaces::Mount => {}
                        Namespaces::MapRoot => {
                            let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
                            unshare(CloneFlags::CLONE_NEWUSER).context("unshare(CLONE_NEWUSER)")?;
                            fs::write("/proc/self/uid_map", format!("0 {uid} 1\n"))?;
                            fs::write("/proc/self/setgroups", "deny")?;
                            fs::write("/proc/self/gid_map", format!("0 {gid} 1\n"))?;
                        }
                        Namespaces::Remap(_) => {
                            unshare(CloneFlags::CLONE_NEWUSER).context("unshare(CLONE_NEWUSER)")?;
                            ready_w.write_all(b"r")?;
                            let mut go = [0u8; 1];
                            go_r.read_exact(&mut go).context("waiting for the id maps")?;
                            let root = nix::unistd::Gid::from_raw(0);
                            nix::unistd::setresgid(root, root, root).context("setresgid(0)")?;
                            let root = nix::unistd::Uid::from_raw(0);
                            nix::unistd::setresuid(root, root, root).context("setresuid(0)")?;
                        }
                    }
                    unshare(CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS)")?;
                    workshop::mounts::make_private(&workshop::runtime::syscalls::Real)
                        .context("mount --make-rprivate /")?;
                    f()
                }));
            let message = match result {
                Ok(Ok(())) => String::new(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(panic) => panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "the child panicked".into()),
            };
            let mut write = write;
            let _ = write.write_all(message.as_bytes());
            drop(write);
            // SAFETY: leaving the forked child without running the test harness's exit path.
            unsafe { libc::_exit(if message.is_empty() { 0 } else { 1 }) }
        }
        ForkResult::Parent { child } => {
            drop((write, ready_w, go_r));
            if let Namespaces::Remap(outside) = ns {
                let mut ready = [0u8; 1];
                if ready_r.read(&mut ready).unwrap_or(0) == 1 {
                    for map in ["uid_map", "gid_map"] {
                        fs::write(format!("/proc/{child}/{map}"), format!("0 {outside} 65536\n"))
                            .unwrap();
                    }
                    go_w.write_all(b"g").unwrap();
                }
            }
            drop(go_w);
            let mut message = String::new();
            read.read_to_string(&mut message).unwrap();
            let status = waitpid(child, None).unwrap();
            assert!(
                matches!(status, WaitStatus::Exited(_, 0)),
                "in the child ({status:?}): {message}"
            );
            let after = fs::read_to_string("/proc/self/mountinfo").unwrap();
            assert_eq!(before, after, "the host's mount table changed");
        }
    }
}

fn sha256(path: &Path) -> String {
    layer::digest_of(fs::File::open(path).unwrap()).unwrap().to_string()
}

fn ino(path: &Path) -> anyhow::Result<u64> {
    Ok(fs::symlink_metadata(path).with_context(|| format!("stat {}", path.display()))?.ino())
}

/// The overlay options of a container of `image`, and the container's dirs.
fn container(s: &Scratch, image: &images::Image, id: &str) -> (OverlayOptions, ContainerLayer) {
    let c = ContainerLayer::create(&s.state(), id).unwrap();
    let opts = OverlayOptions::from_bottom_first(&image.layer_dirs(&s.store()), &c.upper, &c.work);
    (opts, c)
}

fn unmount(target: &Path) -> anyhow::Result<()> {
    nix::mount::umount(target).with_context(|| format!("umount {}", target.display()))
}

#[test]
fn reads_come_from_the_layer_and_a_write_copies_up() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("copyup");
    let demo = images::make_demo_images(&s.store(), &s.rootfs()).unwrap();
    let (opts, c) = container(&s, &demo.web, "c1");
    let base_layer = layer::layer_dir(&s.store(), &demo.base.layers[0]);
    let layer_file = base_layer.join("etc/hostname");
    let checksum_before = sha256(&layer_file);
    let merged = s.target("c1");
    in_own_mount_namespace(|| {
        mount::mount_overlay(&opts, &merged)?;
        // The mount table shows the layers top first: the web layer, then the base.
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
        let line = mountinfo
            .lines()
            .find(|l| l.contains(&format!(" {} ", merged.display())))
            .context("the overlay is not in mountinfo")?;
        let web_top = layer::layer_dir(&s.store(), &demo.web.layers[1]);
        let lower = format!("lowerdir={}:{}", web_top.display(), base_layer.display());
        ensure!(line.contains(" - overlay overlay ") && line.contains(&lower), "{line}");

        // Read: the layer's own inode, nothing copied.
        let inside = merged.join("etc/hostname");
        ensure!(fs::read_to_string(&inside)? == "base\n");
        ensure!(ino(&inside)? == ino(&layer_file)?, "a read is not served by the layer's inode");
        ensure!(!c.upper.join("etc/hostname").exists(), "a read copied the file up");
        ensure!(
            inspect::origin(&c.upper, &opts.lower_top_first, Path::new("/etc/hostname"))
                == Origin::From(LayerRef::Lower { index: 1, dir: base_layer.clone() })
        );
        ensure!(fs::read_to_string(merged.join("var/www/index.html"))? == images::INDEX_HTML);

        // Write: the file is copied up, then changed there; the layer's file is not touched.
        fs::write(&inside, "changed\n")?;
        let upper_file = c.upper.join("etc/hostname");
        ensure!(fs::read_to_string(&upper_file)? == "changed\n", "no copy in the upper dir");
        ensure!(ino(&upper_file)? != ino(&layer_file)?);
        ensure!(
            inspect::origin(&c.upper, &opts.lower_top_first, Path::new("/etc/hostname"))
                == Origin::From(LayerRef::Upper)
        );
        ensure!(fs::read_to_string(&layer_file)? == "base\n");
        unmount(&merged)
    });
    assert_eq!(sha256(&layer_file), checksum_before, "the layer's file changed");
    c.remove().unwrap();
    c.remove().unwrap();
    assert!(!c.dir.exists());
}

#[test]
fn a_delete_leaves_a_whiteout_and_a_recreated_dir_is_opaque() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("whiteout");
    let demo = images::make_demo_images(&s.store(), &s.rootfs()).unwrap();
    let (opts, c) = container(&s, &demo.base, "c1");
    let layer = layer::layer_dir(&s.store(), &demo.base.layers[0]);
    let merged = s.target("c1");
    in_own_mount_namespace(|| {
        mount::mount_overlay(&opts, &merged)?;
        fs::remove_file(merged.join("etc/passwd"))?;
        ensure!(!merged.join("etc/passwd").exists(), "the deleted file is still visible");
        let wh = fs::symlink_metadata(c.upper.join("etc/passwd"))?;
        use std::os::unix::fs::FileTypeExt;
        ensure!(wh.file_type().is_char_device() && wh.rdev() == 0, "not a 0/0 char device");
        ensure!(inspect::is_whiteout(&wh));
        ensure!(
            inspect::origin(&c.upper, &opts.lower_top_first, Path::new("/etc/passwd"))
                == Origin::WhitedOut(LayerRef::Upper)
        );
        ensure!(layer.join("etc/passwd").exists(), "the layer lost its file");

        // rm -r bin; mkdir bin: the new bin must not show the layer's bin/hello.
        fs::remove_dir_all(merged.join("bin"))?;
        fs::create_dir(merged.join("bin"))?;
        ensure!(fs::read_dir(merged.join("bin"))?.next().is_none(), "the old bin shows through");
        ensure!(inspect::is_opaque(&c.upper.join("bin")), "the new bin is not marked opaque");
        ensure!(
            inspect::origin(&c.upper, &opts.lower_top_first, Path::new("/bin/hello"))
                == Origin::Absent
        );
        let entries = inspect::upper_entries(&c.upper)?;
        ensure!(entries.contains(&(PathBuf::from("etc/passwd"), UpperEntry::Whiteout)));
        ensure!(entries.contains(&(PathBuf::from("bin"), UpperEntry::Dir { opaque: true })));
        unmount(&merged)
    });
    assert!(layer.join("bin/hello").exists());
    c.remove().unwrap();
}

#[test]
fn two_containers_on_one_base_are_isolated_and_the_base_is_stored_once() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("two");
    let demo = images::make_demo_images(&s.store(), &s.rootfs()).unwrap();
    let (opts1, c1) = container(&s, &demo.base, "c1");
    let (opts2, c2) = container(&s, &demo.web, "c2");
    let (m1, m2) = (s.target("c1"), s.target("c2"));
    in_own_mount_namespace(|| {
        mount::mount_overlay(&opts1, &m1)?;
        mount::mount_overlay(&opts2, &m2)?;
        fs::write(m1.join("tmp/hello.txt"), "from c1\n")?;
        fs::write(m2.join("etc/motd"), vec![b'x'; 100_000])?;
        ensure!(!m2.join("tmp/hello.txt").exists(), "c2 sees c1's file");
        ensure!(fs::read_to_string(m1.join("etc/motd"))? == "welcome\n", "c1 sees c2's write");
        ensure!(c1.upper.join("tmp/hello.txt").exists() && !c2.upper.join("tmp").exists());
        unmount(&m1)?;
        unmount(&m2)
    });
    // The disk bill: the base once, web's own layer once, each upper dir.
    let report = disk::report(&s.store(), &[(&demo.base, &c1), (&demo.web, &c2)]).unwrap();
    assert_eq!(report.layers.len(), 2);
    let base = report.layers[&demo.base.layers[0]];
    assert!(report.uppers[1].1.bytes >= 100_000, "{report:?}");
    assert_eq!(report.full_copies_total.bytes, report.shared_total.bytes + base.bytes);
    // A third container starts clean.
    let (opts3, c3) = container(&s, &demo.base, "c3");
    let m3 = s.target("c3");
    in_own_mount_namespace(|| {
        mount::mount_overlay(&opts3, &m3)?;
        ensure!(!m3.join("tmp/hello.txt").exists(), "a new container sees an old one's file");
        unmount(&m3)
    });
    for c in [c1, c2, c3] {
        c.remove().unwrap();
    }
    assert_eq!(fs::read_dir(s.state().join("containers")).unwrap().count(), 0);
}

#[test]
fn escaped_paths_reach_the_kernel_intact() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("escape");
    let odd = s.dir.join("odd:layer,with\\chars");
    fs::create_dir_all(&odd).unwrap();
    fs::write(odd.join("file"), "odd\n").unwrap();
    let c = ContainerLayer::create(&s.state(), "c,1:x").unwrap();
    let opts = OverlayOptions::from_bottom_first(&[odd, s.rootfs()], &c.upper, &c.work);
    let merged = s.target("m");
    in_own_mount_namespace(|| {
        mount::mount_overlay(&opts, &merged)?;
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
        let lowers = workshop::overlay::options::lowerdirs_in_mountinfo(&mountinfo, &merged);
        ensure!(lowers.as_ref() == Some(&opts.lower_top_first), "{lowers:?} in {mountinfo}");
        ensure!(fs::read_to_string(merged.join("file"))? == "odd\n");
        ensure!(fs::read_to_string(merged.join("etc/hostname"))? == "base\n");
        fs::write(merged.join("new"), "n")?;
        ensure!(c.upper.join("new").exists());
        unmount(&merged)
    });
    c.remove().unwrap();
}

#[test]
fn the_classic_failures_give_the_kernels_errno() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("failures");
    let scratch = s.dir.clone();
    in_own_mount_namespace(|| {
        for mistake in Mistake::ALL {
            let a = failures::make_on_purpose(mistake, &scratch)?;
            let expected = match mistake {
                Mistake::WorkdirOnAnotherFilesystem => Err(Errno::EINVAL),
                Mistake::LowerInsideUpper => Err(Errno::ELOOP),
                Mistake::UpperOnAnOverlay => Err(Errno::EINVAL),
                // Linux 6.18 accepts it (see failures.rs); an older kernel that refuses says ELOOP.
                Mistake::UpperInsideLower if a.result.is_err() => Err(Errno::ELOOP),
                Mistake::UpperInsideLower => Ok(()),
            };
            ensure!(a.result == expected, "{}: {:?}, expected {expected:?}", mistake.describe(), a);
            ensure!(!a.explanation.is_empty());
        }
        let leftovers: Vec<_> = fs::read_dir(&scratch)?.filter_map(Result::ok).collect();
        ensure!(leftovers.iter().all(|e| e.file_name() == "rootfs"), "{leftovers:?}");
        Ok(())
    });
}

#[test]
fn an_upper_dir_cannot_live_on_an_overlay_but_can_on_tmpfs() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("statefs");
    let (lower, upper, work) = (s.rootfs(), s.dir.join("u"), s.dir.join("w"));
    fs::create_dir_all(&upper).unwrap();
    fs::create_dir_all(&work).unwrap();
    let (merged, tmpfs) = (s.target("m"), s.target("tmpfs"));
    in_own_mount_namespace(|| {
        mount::mount_overlay(&OverlayOptions::from_bottom_first(&[lower], &upper, &work), &merged)?;
        let err = ContainerLayer::create(&merged.join("state"), "c1").unwrap_err();
        let msg = format!("{err:#}");
        ensure!(msg.contains("is on overlay") && msg.lines().count() == 1, "{msg}");
        ensure!(!merged.join("state/containers/c1").exists());
        nix::mount::mount(
            Some("tmpfs"),
            &tmpfs,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )?;
        let c = ContainerLayer::create(&tmpfs, "c1")?;
        c.remove()?;
        unmount(&tmpfs)?;
        unmount(&merged)
    });
}

#[test]
fn in_a_user_namespace_userxattr_keeps_overlays_marks_in_user_xattrs() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("userns");
    let demo = images::make_demo_images(&s.store(), &s.rootfs()).unwrap();
    let (opts, c) = container(&s, &demo.base, "c1");
    let opts = opts.with_userxattr(true);
    let merged = s.target("c1");
    in_child(Namespaces::MapRoot, || {
        mount::mount_overlay(&opts, &merged)?;
        fs::remove_file(merged.join("etc/passwd"))?;
        ensure!(inspect::is_whiteout(&fs::symlink_metadata(c.upper.join("etc/passwd"))?));
        fs::remove_dir_all(merged.join("bin"))?;
        fs::create_dir(merged.join("bin"))?;
        let dir = c.upper.join("bin");
        ensure!(inspect::xattr(&dir, "user.overlay.opaque").as_deref() == Some(&b"y"[..]));
        ensure!(inspect::xattr(&dir, "trusted.overlay.opaque").is_none());
        ensure!(fs::read_dir(merged.join("bin"))?.next().is_none(), "the old bin shows through");
        unmount(&merged)
    });
    c.remove().unwrap();
}

#[test]
fn the_new_mount_api_takes_more_layers_than_a_page_of_options_holds() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("fsconfig");
    // 60 layers with store-like names: more than mount(2)'s one page of options.
    let layers: Vec<PathBuf> = (0..60)
        .map(|i| {
            let l = s.dir.join("layers").join(format!("{i:064}"));
            fs::create_dir_all(&l).unwrap();
            fs::write(l.join("which"), format!("{i}\n")).unwrap();
            fs::write(l.join(format!("only-in-{i}")), "").unwrap();
            l
        })
        .collect();
    let c = ContainerLayer::create(&s.state(), "c1").unwrap();
    let opts = OverlayOptions::from_bottom_first(&layers, &c.upper, &c.work);
    let err = opts.option_string().unwrap_err().to_string();
    assert!(err.contains("one page"), "{err}");
    let merged = s.target("m");
    if !workshop::doctor::kernel_at_least(6, 8) {
        // Before 6.8 there is no lowerdir+: the library says so instead of a bare EINVAL.
        let e = workshop::overlay::fsconfig::mount_overlay_fsconfig(&opts, &merged).unwrap_err();
        assert!(e.to_string().contains("6.8"), "{e:#}");
        return;
    }
    in_own_mount_namespace(|| {
        workshop::overlay::fsconfig::mount_overlay_fsconfig(&opts, &merged)?;
        ensure!(fs::read_to_string(merged.join("which"))? == "59\n", "the top layer is not 59");
        ensure!(merged.join("only-in-0").exists() && merged.join("only-in-59").exists());
        unmount(&merged)
    });
    // Mistakes through the new API come back with their errno and the step that failed.
    let other = s.target("other-fs");
    in_own_mount_namespace(|| {
        let tmpfs = nix::mount::MsFlags::empty();
        nix::mount::mount(Some("tmpfs"), &other, Some("tmpfs"), tmpfs, None::<&str>)?;
        fs::create_dir(other.join("work"))?;
        let mut bad = opts.clone();
        bad.work = other.join("work");
        let err = workshop::overlay::fsconfig::mount_overlay_fsconfig(&bad, &merged).unwrap_err();
        let msg = format!("{err:#}");
        ensure!(msg.contains("CMD_CREATE") && msg.contains("os error 22"), "{msg}");
        let mut missing = opts.clone();
        missing.lower_top_first[0] = s.dir.join("no-such-layer");
        let err =
            workshop::overlay::fsconfig::mount_overlay_fsconfig(&missing, &merged).unwrap_err();
        let msg = format!("{err:#}");
        ensure!(msg.contains("lowerdir+") && msg.contains("os error 2"), "{msg}");
        unmount(&other)
    });
    c.remove().unwrap();
}

#[test]
fn a_remapped_root_writes_its_own_upper_dir_but_cannot_copy_up_files_it_does_not_map() {
    let Some(_serial) = common::root_and_serial() else { return };
    let s = Scratch::new("remap");
    let demo = images::make_demo_images(&s.store(), &s.rootfs()).unwrap();
    let (opts, c) = container(&s, &demo.base, "c1");
    let opts = opts.with_userxattr(true);
    // The container's root is host uid 100000, as `05_user` maps it.
    let outside = 100_000;
    c.give_to(outside, outside).unwrap();
    let merged = s.target("c1");
    in_child(Namespaces::Remap(outside), || {
        mount::mount_overlay(&opts, &merged)?;
        // Reading a layer's file (root's on the host, nobody's in here) needs no copy-up.
        ensure!(fs::read_to_string(merged.join("etc/hostname"))? == "base\n");
        // `/` of the merged view is the upper dir itself, given to this root: a new file needs
        // no copy-up either.
        fs::write(merged.join("hello.txt"), "hello\n")?;
        // /tmp (1777) lets anyone create, but that copies /tmp up first, and a copy-up keeps the
        // owner, host uid 0, which has no name in this namespace: EOVERFLOW. /etc (0755, owned by
        // an unmapped uid) is closed to this root, whose capabilities cover only ids it maps:
        // EACCES. Idmapped layers (mount_setattr(2)) are the way out of both.
        for (what, result, expected) in [
            ("write in /tmp", fs::write(merged.join("tmp/x"), "x"), libc::EOVERFLOW),
            ("delete /etc/motd", fs::remove_file(merged.join("etc/motd")), libc::EACCES),
        ] {
            let errno = result.err().and_then(|e| e.raw_os_error());
            ensure!(errno == Some(expected), "{what}: {errno:?}, expected {expected}");
        }
        unmount(&merged)
    });
    let hello = fs::metadata(c.upper.join("hello.txt")).unwrap();
    assert_eq!((hello.uid(), hello.gid()), (outside, outside), "not written as the mapped root");
    assert!(!c.upper.join("etc").exists() && !c.upper.join("tmp").exists());
    c.remove().unwrap();
}

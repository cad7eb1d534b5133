//! Guards: everything a stage creates on the host is undone, on success, error, panic and signal.
//!
//! A stage pushes an undo action right after each thing it creates. The actions run in reverse order
//! when the [`Cleanup`] is dropped, which happens on a normal return, on an early `?` return and while
//! a panic unwinds. Signals are turned into an ordinary early return by [`crate::signals`], so they take
//! the same path.

/// How to undo one thing.
type Undo = Box<dyn FnOnce() -> anyhow::Result<()>>;

/// A stack of undo actions.
#[derive(Default)]
pub struct Cleanup {
    actions: Vec<(String, Undo)>,
}

impl Cleanup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers how to undo something just created. `what` names it in an error message.
    pub fn push(
        &mut self,
        what: impl Into<String>,
        undo: impl FnOnce() -> anyhow::Result<()> + 'static,
    ) {
        self.actions.push((what.into(), Box::new(undo)));
    }

    /// Undoes everything now, newest first, and reports what could not be undone.
    pub fn run(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        while let Some((what, undo)) = self.actions.pop() {
            if let Err(e) = undo() {
                failures.push(format!("could not remove {what}: {e:#}"));
            }
        }
        failures
    }

    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for failure in self.run() {
            eprintln!("warning: {failure}; remove it by hand");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn undoes_in_reverse_order_on_drop() {
        let log = Rc::new(RefCell::new(Vec::new()));
        {
            let mut c = Cleanup::new();
            for i in 0..3 {
                let log = log.clone();
                c.push(format!("thing {i}"), move || {
                    log.borrow_mut().push(i);
                    Ok(())
                });
            }
        }
        assert_eq!(*log.borrow(), vec![2, 1, 0]);
    }

    #[test]
    fn undoes_while_a_panic_unwinds() {
        let log = Rc::new(RefCell::new(0));
        let l2 = log.clone();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let mut c = Cleanup::new();
            c.push("x", move || {
                *l2.borrow_mut() += 1;
                Ok(())
            });
            panic!("boom");
        }));
        assert!(r.is_err());
        assert_eq!(*log.borrow(), 1);
    }

    #[test]
    fn reports_what_it_could_not_undo_and_goes_on() {
        let mut c = Cleanup::new();
        c.push("a veth", || anyhow::bail!("busy"));
        c.push("a mount", || Ok(()));
        assert_eq!(c.run(), vec!["could not remove a veth: busy".to_string()]);
        assert!(c.is_empty());
    }
}

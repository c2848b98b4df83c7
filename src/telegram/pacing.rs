//! The rules for when each outgoing message may go to Telegram: about 30 a second overall, one
//! a second per private chat after a short burst, 20 a minute per group; one message in flight
//! per chat, so a chat's messages arrive in the order they were queued; a crisis reply ahead of
//! every ordinary reply to other chats; and a 429 holding back only the chat it was for.
//!
//! Pure: time comes in as an argument, and nothing here sleeps, sends or logs, so the rules
//! can be checked step by step on a made-up clock. `pacer` is the shell that runs them. It sees
//! which chat a message is for and how urgent it is, never what it says.
//!
//! Telegram's 429 does not say which limit was hit. One is charged to its own chat, which
//! waits the `retry_after` it gives while every other chat carries on: this pacing keeps the
//! bot under the overall limit, so a lone 429 is about that chat. 429s for several different
//! chats within a second mean the overall limit after all (another process using the same
//! token, or Telegram lowering it for a while): then every chat waits the `retry_after`,
//! crisis replies too, since Telegram would refuse them just the same and each refused call
//! prolongs the wait, and the overall pace starts again at half speed, back to full over
//! `RECOVERY`.

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How fast messages may go.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Between two messages to anyone.
    pub overall: Duration,
    /// Between two messages to one private chat, once its burst is spent.
    pub chat: Duration,
    /// Messages a private chat may get at once.
    pub chat_burst: u32,
    /// Between two messages to one group or channel.
    pub group: Duration,
}

impl Limits {
    /// Telegram's, with margins.
    pub const TELEGRAM: Limits = Limits {
        // 29 a second, not 30: requests reach Telegram a little bunched up (the network, a
        // busy machine), and pacing exactly at the limit would turn that into 429s.
        overall: Duration::from_nanos(1_000_000_000 / 29),
        chat: Duration::from_secs(1),
        // Telegram lets a private chat have a short burst (a reply in two parts) but does not
        // say how long; two is the least that keeps a two-part reply together.
        chat_burst: 2,
        // 20 a minute is one every 3 s; a little more, so that no minute ever holds 21.
        group: Duration::from_millis(3_200),
    };

    /// The overall pace as sends a minute (29 a second: 1,740).
    pub const fn overall_per_minute(&self) -> u32 {
        (60_000_000_000 / self.overall.as_nanos()) as u32
    }
}

/// How soon a message must go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    Ordinary,
    /// A reply to a cry for help: ahead of every ordinary reply to another chat.
    Crisis,
}

/// One queued message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(u64);

/// What to do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// This message may go now; its chat counts it as sending until `leave` or a retry.
    Go(Ticket),
    /// Nothing may go before then.
    WaitUntil(Instant),
    /// Nothing is waiting.
    Idle,
}

/// What a 429 held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// Only the chat it was for.
    Chat,
    /// Every chat: several were refused at once, so the overall limit was hit.
    Everyone,
}

/// 429s for this many different chats within `FLOOD_WINDOW` mean the overall limit.
const FLOOD_CHATS: usize = 3;
const FLOOD_WINDOW: Duration = Duration::from_secs(1);
/// After the overall limit was hit, the pace goes from half back to full over this long.
pub const RECOVERY: Duration = Duration::from_secs(30);

/// A rate with a burst allowance, kept as one time: when the next message would be due had
/// every message so far gone at exactly the rate (the "generic cell rate algorithm"). A
/// message may go up to `slack` before that, which is what lets a burst through.
#[derive(Clone, Copy, Debug, Default)]
struct Pace {
    due: Option<Instant>,
}

impl Pace {
    /// When a message may go: `None` for now.
    fn ready_at(&self, slack: Duration, now: Instant) -> Option<Instant> {
        let due = self.due?;
        (now + slack < due).then(|| due - slack)
    }

    fn spend(&mut self, interval: Duration, now: Instant) {
        self.due = Some(self.due.map_or(now, |due| due.max(now)) + interval);
    }

    /// Whether it has recovered from every message sent, so forgetting it changes nothing.
    fn is_rested(&self, now: Instant) -> bool {
        self.due.is_none_or(|due| due <= now)
    }
}

#[derive(Default)]
struct Chat {
    /// In the order they were queued, except that a message being retried goes back first.
    waiting: VecDeque<Ticket>,
    sending: Option<Ticket>,
    pace: Pace,
    /// Telegram asked this chat to wait (a 429), or its last send failed and is backing off.
    held_until: Option<Instant>,
}

impl Chat {
    fn is_idle(&self, now: Instant) -> bool {
        self.waiting.is_empty()
            && self.sending.is_none()
            && self.held_until.is_none_or(|t| t <= now)
            && self.pace.is_rested(now)
    }
}

/// Every queued message and what Telegram's limits allow next.
pub struct Schedule {
    limits: Limits,
    chats: HashMap<i64, Chat>,
    tickets: HashMap<Ticket, (i64, Urgency)>,
    next_ticket: u64,
    overall: Pace,
    /// Every chat waits until then: the overall limit was hit.
    all_held_until: Option<Instant>,
    /// Recent 429s, by chat, to tell the overall limit from one chat's.
    refusals: VecDeque<(Instant, i64)>,
    /// When the overall limit was last hit: the pace is slower for `RECOVERY` after.
    slowed_at: Option<Instant>,
}

/// Group and channel ids are negative, private chats' positive (a private chat's id is the
/// person's user id).
fn is_group(chat: i64) -> bool {
    chat < 0
}

impl Schedule {
    pub fn new(limits: Limits) -> Schedule {
        Schedule {
            limits,
            chats: HashMap::new(),
            tickets: HashMap::new(),
            next_ticket: 0,
            overall: Pace::default(),
            all_held_until: None,
            refusals: VecDeque::new(),
            slowed_at: None,
        }
    }

    /// Queues a message for `chat`, behind the chat's earlier ones.
    pub fn join(&mut self, chat: i64, urgency: Urgency) -> Ticket {
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.tickets.insert(ticket, (chat, urgency));
        self.chats
            .entry(chat)
            .or_default()
            .waiting
            .push_back(ticket);
        ticket
    }

    /// The message that may go now, or how long to wait. A `Go` counts against the limits.
    pub fn next(&mut self, now: Instant) -> Next {
        self.chats.retain(|_, chat| !chat.is_idle(now));
        // Among chats free to send: the most urgent, then the one whose message was queued
        // first. A crisis reply queued behind its own chat's earlier message lifts that one
        // too, so the chat's order holds.
        let mut best: Option<((Reverse<Urgency>, Ticket), i64)> = None;
        let mut soonest: Option<Instant> = None;
        for (&id, chat) in &self.chats {
            let Some(&head) = chat.waiting.front() else {
                continue;
            };
            if chat.sending.is_some() {
                continue;
            }
            match self.chat_ready_at(id, chat, now) {
                Some(at) => soonest = Some(soonest.map_or(at, |s| s.min(at))),
                None => {
                    let urgency = chat
                        .waiting
                        .iter()
                        .map(|t| self.tickets[t].1)
                        .max()
                        .unwrap_or(Urgency::Ordinary);
                    let key = (Reverse(urgency), head);
                    if best.is_none_or(|(b, _)| key < b) {
                        best = Some((key, id));
                    }
                }
            }
        }
        let Some(((_, ticket), id)) = best else {
            return soonest.map_or(Next::Idle, Next::WaitUntil);
        };
        if let Some(until) = self.all_held_until.filter(|&t| t > now) {
            return Next::WaitUntil(until);
        }
        let interval = self.overall_interval(now);
        // Wakes a quarter-interval early: the timer's lateness is not lost from the rate.
        if let Some(at) = self.overall.ready_at(interval / 4, now) {
            return Next::WaitUntil(at);
        }
        self.overall.spend(interval, now);
        let chat_interval = self.chat_interval(id);
        let chat = self.chats.get_mut(&id).expect("the chat just chosen");
        chat.pace.spend(chat_interval, now);
        chat.waiting.pop_front();
        chat.sending = Some(ticket);
        Next::Go(ticket)
    }

    /// Telegram answered 429 for this message: it goes again, first in its chat, once the
    /// chat has waited `retry_after`.
    pub fn refused(&mut self, ticket: Ticket, retry_after: Duration, now: Instant) -> Held {
        let Some(&(chat, _)) = self.tickets.get(&ticket) else {
            return Held::Chat;
        };
        self.retry_later(ticket, retry_after, now);
        while self
            .refusals
            .front()
            .is_some_and(|&(at, _)| now.saturating_duration_since(at) > FLOOD_WINDOW)
        {
            self.refusals.pop_front();
        }
        if !self.refusals.iter().any(|&(_, c)| c == chat) {
            self.refusals.push_back((now, chat));
        }
        if self.refusals.len() < FLOOD_CHATS {
            return Held::Chat;
        }
        self.refusals.clear();
        let until = now + retry_after;
        self.all_held_until = Some(self.all_held_until.map_or(until, |t| t.max(until)));
        self.slowed_at = Some(now);
        Held::Everyone
    }

    /// The send failed (a 5xx, a timeout, a dropped connection): it goes again, first in its
    /// chat, after `wait`.
    pub fn retry_later(&mut self, ticket: Ticket, wait: Duration, now: Instant) {
        let Some(&(id, _)) = self.tickets.get(&ticket) else {
            return;
        };
        let chat = self.chats.entry(id).or_default();
        if chat.sending == Some(ticket) {
            chat.sending = None;
        }
        chat.waiting.retain(|&t| t != ticket);
        chat.waiting.push_front(ticket);
        let until = now + wait;
        chat.held_until = Some(chat.held_until.map_or(until, |t| t.max(until)));
    }

    /// The message went, was refused for good, or is abandoned: its chat may send the next.
    pub fn leave(&mut self, ticket: Ticket) {
        let Some((id, _)) = self.tickets.remove(&ticket) else {
            return;
        };
        if let Some(chat) = self.chats.get_mut(&id) {
            if chat.sending == Some(ticket) {
                chat.sending = None;
            }
            chat.waiting.retain(|&t| t != ticket);
        }
    }

    fn chat_interval(&self, chat: i64) -> Duration {
        if is_group(chat) {
            self.limits.group
        } else {
            self.limits.chat
        }
    }

    /// When `chat` may send next: `None` for now.
    fn chat_ready_at(&self, id: i64, chat: &Chat, now: Instant) -> Option<Instant> {
        let burst = if is_group(id) {
            1
        } else {
            self.limits.chat_burst.max(1)
        };
        let slack = self.chat_interval(id) * (burst - 1);
        let paced = chat.pace.ready_at(slack, now);
        let held = chat.held_until.filter(|&t| t > now);
        paced.max(held)
    }

    fn overall_interval(&self, now: Instant) -> Duration {
        let full = self.limits.overall;
        let Some(at) = self.slowed_at else {
            return full;
        };
        let recovered = now.saturating_duration_since(at).as_secs_f64() / RECOVERY.as_secs_f64();
        if recovered >= 1.0 {
            full
        } else {
            full.mul_f64(2.0 - recovered)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Hands out turns until nothing waits, each message sent (and left) at once; returns
    /// (chat, time) of each send, with time in milliseconds from `t0`.
    fn drain(s: &mut Schedule, t0: Instant, mut now: Instant) -> Vec<(i64, u64)> {
        let mut sent = Vec::new();
        loop {
            match s.next(now) {
                Next::Go(ticket) => {
                    sent.push((s.tickets[&ticket].0, (now - t0).as_millis() as u64));
                    s.leave(ticket);
                }
                Next::WaitUntil(at) => {
                    assert!(at > now, "a wait into the past");
                    now = at;
                }
                Next::Idle => return sent,
            }
        }
    }

    #[test]
    fn a_burst_across_chats_goes_evenly_at_the_overall_rate() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Limits::TELEGRAM);
        for chat in 1..=300 {
            s.join(chat, Urgency::Ordinary);
        }
        let sent = drain(&mut s, t0, t0);
        assert_eq!(sent.len(), 300);
        // Never 30 in one second, as Telegram counts...
        for window in sent.windows(31) {
            assert!(window[30].1 - window[0].1 > 1000, "{window:?}");
        }
        // ...yet close to it: 300 messages in about 300 / 29 seconds.
        let took = sent.last().unwrap().1;
        assert!((10_000..10_500).contains(&took), "{took} ms");
        // In the order they were queued.
        let chats: Vec<i64> = sent.iter().map(|s| s.0).collect();
        assert_eq!(chats, (1..=300).collect::<Vec<_>>());
    }

    #[test]
    fn a_private_chat_gets_two_at_once_then_one_a_second() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Limits::TELEGRAM);
        for _ in 0..5 {
            s.join(7, Urgency::Ordinary);
        }
        s.join(-100, Urgency::Ordinary);
        s.join(-100, Urgency::Ordinary);
        let sent = drain(&mut s, t0, t0);
        let private: Vec<u64> = sent.iter().filter(|s| s.0 == 7).map(|s| s.1).collect();
        assert!(private[1] < 100, "{private:?}");
        for (k, &at) in private.iter().enumerate().skip(2) {
            let due = (k as u64 - 1) * 1_000;
            assert!((due..due + 100).contains(&at), "{private:?}");
        }
        let group: Vec<u64> = sent.iter().filter(|s| s.0 == -100).map(|s| s.1).collect();
        assert!(group[1] - group[0] >= 3_200, "{group:?}");
    }

    #[test]
    fn one_message_per_chat_in_flight_and_in_order() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Limits::TELEGRAM);
        let first = s.join(7, Urgency::Ordinary);
        let second = s.join(7, Urgency::Crisis);
        assert_eq!(
            s.next(t0),
            Next::Go(first),
            "a crisis never overtakes its own chat"
        );
        // The first is not done: the second waits, however long.
        assert_eq!(s.next(t0 + ms(5_000)), Next::Idle);
        s.leave(first);
        assert_eq!(s.next(t0 + ms(5_000)), Next::Go(second));
    }

    #[test]
    fn a_crisis_reply_goes_ahead_of_ordinary_replies_to_other_chats() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Limits::TELEGRAM);
        for chat in 1..=100 {
            s.join(chat, Urgency::Ordinary);
        }
        let mut now = t0;
        let mut sent = 0;
        while sent < 10 {
            match s.next(now) {
                Next::Go(t) => {
                    s.leave(t);
                    sent += 1;
                }
                Next::WaitUntil(at) => now = at,
                Next::Idle => unreachable!(),
            }
        }
        let cry = s.join(500, Urgency::Crisis);
        // An ordinary message queued before the crisis in a chat behind it in the queue is
        // lifted with it: chat 600's first message goes before the crisis reply to chat 600.
        let before = s.join(600, Urgency::Ordinary);
        let lifted = s.join(600, Urgency::Crisis);
        let order: Vec<Ticket> = std::iter::from_fn(|| {
            loop {
                match s.next(now) {
                    Next::Go(t) => {
                        s.leave(t);
                        return Some(t);
                    }
                    Next::WaitUntil(at) => now = at,
                    Next::Idle => return None,
                }
            }
        })
        .collect();
        assert_eq!(order.len(), 93);
        assert_eq!(order[..3], [cry, before, lifted]);
    }

    #[test]
    fn a_429_holds_only_its_chat_and_the_message_goes_again_first() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Limits::TELEGRAM);
        let refused = s.join(1, Urgency::Ordinary);
        s.join(1, Urgency::Ordinary);
        assert_eq!(s.next(t0), Next::Go(refused));
        assert_eq!(s.refused(refused, ms(30_000), t0), Held::Chat);
        for chat in 2..=20 {
            s.join(chat, Urgency::Crisis);
        }
        let sent = drain(&mut s, t0, t0);
        assert_eq!(sent.len(), 21);
        let others: Vec<&(i64, u64)> = sent.iter().filter(|s| s.0 != 1).collect();
        assert!(others.iter().all(|s| s.1 < 1_000), "{sent:?}");
        let held: Vec<u64> = sent.iter().filter(|s| s.0 == 1).map(|s| s.1).collect();
        assert!(held[0] >= 30_000, "{held:?}");
        // The retried message went before the one queued after it.
        let mut s = Schedule::new(Limits::TELEGRAM);
        let a = s.join(1, Urgency::Ordinary);
        let b = s.join(1, Urgency::Ordinary);
        assert_eq!(s.next(t0), Next::Go(a));
        s.retry_later(a, ms(500), t0);
        assert_eq!(s.next(t0), Next::WaitUntil(t0 + ms(500)));
        assert_eq!(s.next(t0 + ms(500)), Next::Go(a));
        s.leave(a);
        // Telegram may have counted the refused try: the chat's burst is spent.
        assert_eq!(s.next(t0 + ms(500)), Next::WaitUntil(t0 + ms(1_000)));
        assert_eq!(s.next(t0 + ms(1_000)), Next::Go(b));
    }

    /// The next `Go`, the clock moved on to it.
    fn go(s: &mut Schedule, now: &mut Instant) -> Ticket {
        loop {
            match s.next(*now) {
                Next::Go(ticket) => return ticket,
                Next::WaitUntil(at) => *now = at,
                Next::Idle => panic!("nothing waiting"),
            }
        }
    }

    #[test]
    fn refusals_for_several_chats_at_once_hold_everyone_then_slow_the_pace() {
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = Schedule::new(Limits::TELEGRAM);
        for chat in 1..=3 {
            s.join(chat, Urgency::Ordinary);
        }
        let tickets: Vec<Ticket> = (0..3).map(|_| go(&mut s, &mut now)).collect();
        assert_eq!(s.refused(tickets[0], ms(2_000), now), Held::Chat);
        assert_eq!(s.refused(tickets[1], ms(2_000), now), Held::Chat);
        assert_eq!(s.refused(tickets[2], ms(2_000), now), Held::Everyone);
        let held_at = (now - t0).as_millis() as u64;
        s.join(4, Urgency::Crisis);
        for chat in 5..=64 {
            s.join(chat, Urgency::Ordinary);
        }
        let sent = drain(&mut s, t0, now);
        assert_eq!(sent[0].0, 4, "the crisis reply first, once allowed");
        assert!(sent[0].1 >= held_at + 2_000, "{sent:?}");
        // Half speed at first: 60 messages take well over the two seconds of full speed.
        let fresh: Vec<u64> = sent.iter().filter(|s| s.0 >= 5).map(|s| s.1).collect();
        let span = fresh.last().unwrap() - fresh[0];
        assert!(span > 3_000, "{span} ms");
    }

    #[test]
    fn refusals_repeated_in_one_chat_hold_only_that_chat() {
        let mut now = Instant::now();
        let mut s = Schedule::new(Limits::TELEGRAM);
        for chat in [1, 2, 1] {
            let ticket = s.join(chat, Urgency::Ordinary);
            assert_eq!(go(&mut s, &mut now), ticket);
            assert_eq!(s.refused(ticket, ms(10), now), Held::Chat);
            s.leave(ticket);
        }
    }

    #[test]
    fn leaving_before_the_turn_frees_the_place_and_idle_chats_are_forgotten() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Limits::TELEGRAM);
        let gone = s.join(1, Urgency::Ordinary);
        let kept = s.join(2, Urgency::Ordinary);
        s.leave(gone);
        assert_eq!(s.next(t0), Next::Go(kept));
        s.leave(kept);
        assert_eq!(s.next(t0 + ms(5_000)), Next::Idle);
        assert!(s.chats.is_empty() && s.tickets.is_empty());
    }
}

//! A bounded memory of recent bid answers by (user, request_id), so a retry
//! that arrives while its first answer is fresh needs no store lookup.
//! Anything evicted was committed long ago and is found in the store.

use std::collections::{HashMap, VecDeque};

use crate::domain::UserId;
use crate::store::StoredAnswer;

pub type RequestKey = (UserId, String);

#[derive(Debug)]
pub struct RecentAnswers {
    answers: HashMap<RequestKey, StoredAnswer>,
    order: VecDeque<RequestKey>,
    capacity: usize,
}

impl RecentAnswers {
    pub fn new(capacity: usize) -> Self {
        Self {
            answers: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn get(&self, key: &RequestKey) -> Option<&StoredAnswer> {
        self.answers.get(key)
    }

    pub fn remember(&mut self, key: RequestKey, answer: StoredAnswer) {
        if self.answers.insert(key.clone(), answer).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.answers.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(n: u16) -> StoredAnswer {
        StoredAnswer {
            http_status: n,
            body: String::new(),
        }
    }

    #[test]
    fn oldest_answers_are_forgotten_first() {
        let user = uuid::Uuid::new_v4();
        let mut recent = RecentAnswers::new(2);
        recent.remember((user, "a".into()), answer(1));
        recent.remember((user, "b".into()), answer(2));
        recent.remember((user, "c".into()), answer(3));
        assert_eq!(recent.len(), 2);
        assert!(recent.get(&(user, "a".into())).is_none());
        assert_eq!(recent.get(&(user, "c".into())), Some(&answer(3)));
    }
}

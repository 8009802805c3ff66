import unittest

import pytest

from bank import Account, InsufficientFunds


def test_new_account_is_empty():
    assert Account("ada").balance == 0


def test_deposit_adds():
    account = Account("ada")
    account.deposit(10)
    account.deposit(5)
    assert account.balance == 15


def test_withdraw_subtracts():
    account = Account("ada")
    account.deposit(10)
    account.withdraw(3)
    assert account.balance == 7


def test_overdraft_is_refused():
    account = Account("ada")
    account.deposit(10)
    with pytest.raises(InsufficientFunds):
        account.withdraw(11)
    assert account.balance == 10


@pytest.mark.parametrize("amount", [0, -5])
def test_amounts_must_be_positive(amount):
    account = Account("ada")
    with pytest.raises(ValueError):
        account.deposit(amount)
    with pytest.raises(ValueError):
        account.withdraw(amount)


def test_history_lists_operations():
    account, other = Account("ada"), Account("bob")
    account.deposit(10)
    account.withdraw(3)
    account.transfer(other, 5)
    assert account.history == [("deposit", 10), ("withdraw", 3), ("transfer", 5)]


class TransferTest(unittest.TestCase):
    def test_transfer_moves_money(self):
        a, b = Account("ada"), Account("bob")
        a.deposit(20)
        a.transfer(b, 8)
        self.assertEqual((a.balance, b.balance), (12, 8))

    def test_failed_transfer_changes_nothing(self):
        a, b = Account("ada"), Account("bob")
        a.deposit(5)
        with self.assertRaises(InsufficientFunds):
            a.transfer(b, 6)
        self.assertEqual((a.balance, b.balance), (5, 0))

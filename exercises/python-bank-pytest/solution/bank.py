class InsufficientFunds(Exception):
    """A withdrawal or transfer larger than the balance."""


class Account:
    def __init__(self, owner):
        self.owner = owner
        self._balance = 0
        self.history = []

    @property
    def balance(self):
        return self._balance

    @staticmethod
    def _check(amount):
        if amount <= 0:
            raise ValueError("the amount must be positive")

    def deposit(self, amount):
        self._check(amount)
        self._balance += amount
        self.history.append(("deposit", amount))

    def withdraw(self, amount):
        self._check(amount)
        if amount > self._balance:
            raise InsufficientFunds(f"balance {self._balance} < {amount}")
        self._balance -= amount
        self.history.append(("withdraw", amount))

    def transfer(self, other, amount):
        self._check(amount)
        if amount > self._balance:
            raise InsufficientFunds(f"balance {self._balance} < {amount}")
        self._balance -= amount
        other._balance += amount
        self.history.append(("transfer", amount))

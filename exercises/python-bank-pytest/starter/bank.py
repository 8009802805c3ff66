class InsufficientFunds(Exception):
    pass


class Account:
    def __init__(self, owner):
        self.owner = owner
        self.balance = 0
        self.history = []

    def deposit(self, amount):
        self.balance += amount

    def withdraw(self, amount):
        raise NotImplementedError

    def transfer(self, other, amount):
        raise NotImplementedError

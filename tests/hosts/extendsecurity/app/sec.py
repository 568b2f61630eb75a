from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Column, Integer, String


class MyUser(User):
    """FAB's user with the host's extra columns, on the same ab_user table."""

    __tablename__ = "ab_user"
    emp_number = Column(Integer)
    department = Column(String(64))


class MySecurityManager(SecurityManager):
    user_model = MyUser

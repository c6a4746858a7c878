"""The admin's home page."""
from flask_appbuilder import IndexView


class DashboardIndexView(IndexView):
    index_template = "admin/index.html"

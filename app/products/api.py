"""REST API for the product catalogue: /api/v1/product/ (no delete: archive instead).

Reads (get, list, filters, paging) are FAB's own; writes go through the catalogue's rules
(`app.products.services`), so errors come back as 422 per field. JWT only, like every API.
"""
from __future__ import annotations

from flask_appbuilder.hooks import before_request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from marshmallow import ValidationError

from app.extensions import db
from app.fab.base import ClientelaModelRestApi
from app.products.models import Product
from app.products.schemas import ProductInputSchema, ProductSchema
from app.products.services import ProductErrors, create_product, update_product
from app.rest import API_RESPONSES, json_body, model_api_descriptions, refused, use_accept_language
from app.security.roles import READ_WRITE


class ProductApi(ClientelaModelRestApi):
    resource_name = "product"
    datamodel = SQLAInterface(Product)
    class_permission_name = "Product"
    method_permission_name = READ_WRITE
    include_route_methods = {"get", "get_list", "post", "put"}

    list_columns = show_columns = ["id", "name", "description", "unit", "unit_price", "tax_rate", "vat_nature",
                                   "archived"]
    add_columns = edit_columns = ["name", "description", "unit", "unit_price", "tax_rate", "vat_nature", "archived"]
    search_columns = ["name", "description", "archived", "vat_nature"]
    order_columns = ["id", "name", "unit_price", "tax_rate"]
    base_order = ("name", "asc")
    list_model_schema = show_model_schema = ProductSchema()
    add_model_schema = edit_model_schema = ProductInputSchema()
    responses = API_RESPONSES
    openapi_spec_methods = model_api_descriptions("ProductApi")

    @before_request
    def _reader_language(self) -> None:
        use_accept_language()

    def post_headless(self):
        try:
            product = create_product(self.add_model_schema.load(json_body()))
        except (ValidationError, ProductErrors) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(201, id=product.id, result=self.show_model_schema.dump(product))

    def put_headless(self, pk):
        product = self.datamodel.get(pk, self._base_filters)
        if product is None:
            return self.response_404()
        try:
            update_product(product, self.edit_model_schema.load(json_body()))
            db.session.flush()
        except (ValidationError, ProductErrors) as err:
            return refused(self, err)
        db.session.commit()
        return self.response(200, id=product.id, result=self.show_model_schema.dump(product))


def register(appbuilder) -> None:
    appbuilder.add_api(ProductApi)

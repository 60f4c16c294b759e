from pydantic import BaseModel

from app.kit.pagination import Link


class Material(BaseModel):
    code: str
    display: str
    chapter: str
    subchapter: str
    description: str
    hazardous: bool
    chapter_title: str
    subchapter_title: str


class MaterialPage(BaseModel):
    items: list[Material]
    links: list[Link]

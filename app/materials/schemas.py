from pydantic import BaseModel, Field

from app.kit.pagination import Link


class Material(BaseModel):
    """An entry of the European List of Waste (Commission Decision 2014/955/EU)."""

    code: str = Field(description="The 6-digit EWC code.", examples=["170504"])
    display: str = Field(
        description="The code as the List writes it, with a `*` when hazardous.",
        examples=["17 05 04"],
    )
    chapter: str = Field(description="Its 2-digit chapter.", examples=["17"])
    subchapter: str = Field(description="Its 4-digit sub-chapter.", examples=["1705"])
    description: str = Field(
        description="What the List calls it.",
        examples=["Soil and stones other than those mentioned in 17 05 03"],
    )
    hazardous: bool = Field(
        description="Hazardous (an asterisk in the List): matched only to a request that names "
        "this very code."
    )
    chapter_title: str = Field(description="The title of its chapter.")
    subchapter_title: str = Field(description="The title of its sub-chapter.")


class MaterialPage(BaseModel):
    items: list[Material] = Field(description="The page's entries, by code.")
    links: list[Link] = Field(description="`next` when the page is full; empty on the last.")
